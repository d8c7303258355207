# fig3c.gp: Chain transfer cost vs data size (PIE Fig. 3c)
# Written by `confide bench reproduce`; draw it again with: gnuplot fig3c.gp
if (!exists("outfile")) outfile = "fig3c.png"
set terminal pngcairo size 1000,600 font "sans,10"
set output outfile
set title "Chain transfer cost vs data size (PIE Fig. 3c)"
set xlabel "data size"
set ylabel "transfer cost (s)"
set datafile missing "?"
set key outside right top vertical
set grid ytics
$data << EOD
"4MB" 0.125741 0.2 0.251483 0.3 0.377224 0.4
"16MB" 0.502886 0.6 1.00577 0.9 1.50866 1.2
"32MB" 1.00574 1 2.01149 1.6 3.01723 2.1
"64MB" 2.13527 2 4.27054 3 6.40581 3.9
EOD
set style data histogram
set style histogram clustered gap 1
set boxwidth 0.9
set xtics nomirror
set yrange [0:*]
plot $data using 2:xtic(1) title "2-func chain (ours)" lc rgb "#1f77b4" fs solid 0.85, \
     $data using 3 title "2-func chain (paper)" lc rgb "#1f77b4" fs pattern 4 border lc rgb "#1f77b4", \
     $data using 4:xtic(1) title "3-func chain (ours)" lc rgb "#d62728" fs solid 0.85, \
     $data using 5 title "3-func chain (paper)" lc rgb "#d62728" fs pattern 4 border lc rgb "#d62728", \
     $data using 6:xtic(1) title "4-func chain (ours)" lc rgb "#2ca02c" fs solid 0.85, \
     $data using 7 title "4-func chain (paper)" lc rgb "#2ca02c" fs pattern 4 border lc rgb "#2ca02c"
