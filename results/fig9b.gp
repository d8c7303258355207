# fig9b.gp: Instances held at once under a DRAM limit (PIE Fig. 9b)
# Written by `confide bench reproduce`; draw it again with: gnuplot fig9b.gp
if (!exists("outfile")) outfile = "fig9b.png"
set terminal pngcairo size 1000,600 font "sans,10"
set output outfile
set title "Instances held at once under a DRAM limit (PIE Fig. 9b)"
set xlabel "DRAM limit"
set ylabel "concurrent instances"
set datafile missing "?"
set key outside right top vertical
set grid ytics
$data << EOD
"16GB" 28 28 10 11 128 114 224 248
"32GB" 56 60 21 25 258 245 452 465
"64GB" 112 126 43 52 517 507 908 961
EOD
set style data histogram
set style histogram clustered gap 1
set boxwidth 0.9
set xtics nomirror
set yrange [0:*]
plot $data using 2:xtic(1) title "SGX face-detector (ours)" lc rgb "#1f77b4" fs solid 0.85, \
     $data using 3 title "SGX face-detector (paper)" lc rgb "#1f77b4" fs pattern 4 border lc rgb "#1f77b4", \
     $data using 4:xtic(1) title "SGX chatbot (ours)" lc rgb "#d62728" fs solid 0.85, \
     $data using 5 title "SGX chatbot (paper)" lc rgb "#d62728" fs pattern 4 border lc rgb "#d62728", \
     $data using 6:xtic(1) title "PIE face-detector (ours)" lc rgb "#2ca02c" fs solid 0.85, \
     $data using 7 title "PIE face-detector (paper)" lc rgb "#2ca02c" fs pattern 4 border lc rgb "#2ca02c", \
     $data using 8:xtic(1) title "PIE chatbot (ours)" lc rgb "#ff7f0e" fs solid 0.85, \
     $data using 9 title "PIE chatbot (paper)" lc rgb "#ff7f0e" fs pattern 4 border lc rgb "#ff7f0e"
