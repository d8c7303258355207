# fig9c-latency.gp: Autoscaling mean latency (PIE section VI-B)
# Written by `confide bench reproduce`; draw it again with: gnuplot fig9c-latency.gp
if (!exists("outfile")) outfile = "fig9c-latency.png"
set terminal pngcairo size 1000,600 font "sans,10"
set output outfile
set title "Autoscaling mean latency (PIE section VI-B)"
set xlabel "application"
set ylabel "mean latency (ms)"
set datafile missing "?"
set key outside right top vertical
set grid ytics
set logscale y
$data << EOD
"enc-file" 55361.4 564.671 421.967
"auth" 56387.5 303.565 156.043
"face-detector" 26253.8 59626.2 20300.1
"sentiment" 21182.2 11626.1 7359.23
"chatbot" 53108.7 32871.7 17507.5
EOD
set style data histogram
set style histogram clustered gap 1
set boxwidth 0.9
set xtics nomirror
plot $data using 2:xtic(1) title "SGX-based cold start" lc rgb "#1f77b4" fs solid 0.85, \
     $data using 3:xtic(1) title "SGX-based warm start" lc rgb "#d62728" fs solid 0.85, \
     $data using 4:xtic(1) title "PIE-based cold start" lc rgb "#2ca02c" fs solid 0.85
