# table5.gp: EPC eviction reduction vs SGX cold start (PIE Table V)
# Written by `confide bench reproduce`; draw it again with: gnuplot table5.gp
if (!exists("outfile")) outfile = "table5.png"
set terminal pngcairo size 1000,600 font "sans,10"
set output outfile
set title "EPC eviction reduction vs SGX cold start (PIE Table V)"
set xlabel "application"
set ylabel "fewer evictions per request (%)"
set datafile missing "?"
set key outside right top vertical
set grid ytics
$data << EOD
"enc-file" 99.9644 99.8 100 99.8
"auth" 99.9652 99.8 100 99.8
"face-detector" 64.1352 89.5 81.9686 88.9
"sentiment" 92.2634 99.6 95.8186 99.6
"chatbot" 91.5054 99.3 95.3315 99
EOD
set style data histogram
set style histogram clustered gap 1
set boxwidth 0.9
set xtics nomirror
set yrange [0:*]
plot $data using 2:xtic(1) title "SGX-based warm start vs SGX cold (ours)" lc rgb "#1f77b4" fs solid 0.85, \
     $data using 3 title "SGX-based warm start vs SGX cold (paper)" lc rgb "#1f77b4" fs pattern 4 border lc rgb "#1f77b4", \
     $data using 4:xtic(1) title "PIE-based cold start vs SGX cold (ours)" lc rgb "#d62728" fs solid 0.85, \
     $data using 5 title "PIE-based cold start vs SGX cold (paper)" lc rgb "#d62728" fs pattern 4 border lc rgb "#d62728"
