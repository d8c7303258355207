# fig3a.gp: Enclave startup time vs enclave size (PIE Fig. 3a)
# Written by `confide bench reproduce`; draw it again with: gnuplot fig3a.gp
if (!exists("outfile")) outfile = "fig3a.png"
set terminal pngcairo size 1000,600 font "sans,10"
set output outfile
set title "Enclave startup time vs enclave size (PIE Fig. 3a)"
set xlabel "enclave size"
set ylabel "startup time (s)"
set datafile missing "?"
set key outside right top vertical
set grid ytics
$data << EOD
"16M" 0.275863 0.1 0.15886 0.2 0.0601537 0.1
"64M" 1.09916 0.5 0.63112 0.6 0.236282 0.4
"256M" 4.94724 4.8 3.07511 7.1 1.49569 6
"512M" 10.2145 10 6.47029 14.7 3.31141 12.5
"1G" 20.7491 20.1 13.2606 21.4 6.94285 16.7
EOD
set style data histogram
set style histogram clustered gap 1
set boxwidth 0.9
set xtics nomirror
set yrange [0:*]
plot $data using 2:xtic(1) title "SGX1 (ours)" lc rgb "#1f77b4" fs solid 0.85, \
     $data using 3 title "SGX1 (paper)" lc rgb "#1f77b4" fs pattern 4 border lc rgb "#1f77b4", \
     $data using 4:xtic(1) title "SGX2 (ours)" lc rgb "#d62728" fs solid 0.85, \
     $data using 5 title "SGX2 (paper)" lc rgb "#d62728" fs pattern 4 border lc rgb "#d62728", \
     $data using 6:xtic(1) title "SGX1+SW Opt. (ours)" lc rgb "#2ca02c" fs solid 0.85, \
     $data using 7 title "SGX1+SW Opt. (paper)" lc rgb "#2ca02c" fs pattern 4 border lc rgb "#2ca02c"
