# fig9d.gp: Chain hand-off cost vs chain length, 10 MB of data (PIE Fig. 9d)
# Written by `confide bench reproduce`; draw it again with: gnuplot fig9d.gp
if (!exists("outfile")) outfile = "fig9d.png"
set terminal pngcairo size 1000,600 font "sans,10"
set output outfile
set title "Chain hand-off cost vs chain length, 10 MB of data (PIE Fig. 9d)"
set xlabel "functions in the chain"
set ylabel "hand-off cost (ms)"
set datafile missing "?"
set key outside right top vertical
set grid ytics
set logscale y
$data << EOD
"2" 147.453 218 120.255 130 0.769079 11
"3" 294.905 364 240.511 188 1.53816 20
"4" 442.358 560 360.766 296 2.30724 30
"5" 589.811 767 481.021 414 3.07632 40
"6" 737.264 879 601.277 438 3.84539 50
"7" 884.716 1024 721.532 494 4.61447 51
"8" 1032.17 1174 841.788 557 5.38355 69
"9" 1179.62 1368 962.043 662 6.15263 79
"10" 1327.07 1502 1082.3 708 6.92171 90
EOD
set xtics nomirror
set offsets 0.2, 0.2, 0, 0
plot $data using 0:2:xtic(1) with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "SGX-based cold start (ours)", \
     $data using 0:3 with linespoints lw 1 dt 2 pt 6 lc rgb "#1f77b4" title "SGX-based cold start (paper)", \
     $data using 0:4:xtic(1) with linespoints lw 2 pt 7 lc rgb "#d62728" title "SGX-based warm start (ours)", \
     $data using 0:5 with linespoints lw 1 dt 2 pt 6 lc rgb "#d62728" title "SGX-based warm start (paper)", \
     $data using 0:6:xtic(1) with linespoints lw 2 pt 7 lc rgb "#2ca02c" title "PIE-based cold start (ours)", \
     $data using 0:7 with linespoints lw 1 dt 2 pt 6 lc rgb "#2ca02c" title "PIE-based cold start (paper)"
