# fig9c.gp: Autoscaling throughput (PIE Fig. 9c)
# Written by `confide bench reproduce`; draw it again with: gnuplot fig9c.gp
if (!exists("outfile")) outfile = "fig9c.png"
set terminal pngcairo size 1000,600 font "sans,10"
set output outfile
set title "Autoscaling throughput (PIE Fig. 9c)"
set xlabel "application"
set ylabel "throughput (req/s)"
set datafile missing "?"
set key outside right top vertical
set grid ytics
set logscale y
$data << EOD
"enc-file" 0.21189 0.2 107.036 126.6 122.98 36.9
"auth" 0.212244 0.2 233.613 337.6 331.477 39.4
"face-detector" 0.45422 0.1 0.839184 8.8 2.68005 2.9
"sentiment" 0.55706 0.1 4.30575 49.5 6.89754 19
"chatbot" 0.224672 0.1 1.52311 11 3.01408 6.1
EOD
set style data histogram
set style histogram clustered gap 1
set boxwidth 0.9
set xtics nomirror
plot $data using 2:xtic(1) title "SGX-based cold start (ours)" lc rgb "#1f77b4" fs solid 0.85, \
     $data using 3 title "SGX-based cold start (paper)" lc rgb "#1f77b4" fs pattern 4 border lc rgb "#1f77b4", \
     $data using 4:xtic(1) title "SGX-based warm start (ours)" lc rgb "#d62728" fs solid 0.85, \
     $data using 5 title "SGX-based warm start (paper)" lc rgb "#d62728" fs pattern 4 border lc rgb "#d62728", \
     $data using 6:xtic(1) title "PIE-based cold start (ours)" lc rgb "#2ca02c" fs solid 0.85, \
     $data using 7 title "PIE-based cold start (paper)" lc rgb "#2ca02c" fs pattern 4 border lc rgb "#2ca02c"
