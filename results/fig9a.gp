# fig9a.gp: End-to-end latency of one request (PIE Fig. 9a)
# Written by `confide bench reproduce`; draw it again with: gnuplot fig9a.gp
if (!exists("outfile")) outfile = "fig9a.png"
set terminal pngcairo size 1000,600 font "sans,10"
set output outfile
set title "End-to-end latency of one request (PIE Fig. 9a)"
set xlabel "application"
set ylabel "latency (ms)"
set datafile missing "?"
set key outside right top vertical
set grid ytics
set logscale y
$data << EOD
"enc-file" 5024.05 6177 62.6342 54 61.4113 144
"auth" 4982.33 6077 23.4289 15 22.2963 33
"face-detector" 2892.29 2354 1384.13 900 1218.52 828
"sentiment" 1899.58 6674 250.979 152 281.694 395
"chatbot" 5027.11 12561 974.755 719 1021.66 1153
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
