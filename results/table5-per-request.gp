# table5-per-request.gp: EPC evictions per request during autoscaling (PIE Table V / 100 requests)
# Written by `confide bench reproduce`; draw it again with: gnuplot table5-per-request.gp
if (!exists("outfile")) outfile = "table5-per-request.png"
set terminal pngcairo size 1000,600 font "sans,10"
set output outfile
set title "EPC evictions per request during autoscaling (PIE Table V / 100 requests)"
set xlabel "application"
set ylabel "evictions per request"
set datafile missing "?"
set key outside right top vertical
set grid ytics
set logscale y
$data << EOD
"enc-file" 460337 429000 164.09 780 ? 986
"auth" 460100 435000 160.19 780 ? 986
"face-detector" 177931 478000 63814.6 50000 32083.4 53000
"sentiment" 165227 1.072e+06 12782.9 4680 6908.86 4680
"chatbot" 394529 1.669e+06 33513.8 12000 18418.4 17000
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
