# enturbo-sgx2.gp: EnTurbo startup speedup vs measurement workers, SGX2 (EnTurbo DAC'24)
# Written by `confide bench reproduce`; draw it again with: gnuplot enturbo-sgx2.gp
if (!exists("outfile")) outfile = "enturbo-sgx2.png"
set terminal pngcairo size 1000,600 font "sans,10"
set output outfile
set title "EnTurbo startup speedup vs measurement workers, SGX2 (EnTurbo DAC'24)"
set xlabel "measurement workers"
set ylabel "speedup over clemmys-batch"
set datafile missing "?"
set key outside right top vertical
set grid ytics
$data << EOD
"1" 1.12475 1.13612 1.03675 1.1484 1.18291
"2" 1.83529 1.96654 1.03704 1.70371 1.5765
"4" 2.68264 3.09981 1.12709 2.24142 1.82964
"8" 3.40066 4.21177 1.22471 2.65074 2.02103
"16" 3.87273 5.03219 1.27787 2.88794 2.06552
EOD
set xtics nomirror
set offsets 0.2, 0.2, 0, 0
plot $data using 0:2:xtic(1) with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "enc-file", \
     $data using 0:3:xtic(1) with linespoints lw 2 pt 7 lc rgb "#d62728" title "auth", \
     $data using 0:4:xtic(1) with linespoints lw 2 pt 7 lc rgb "#2ca02c" title "face-detector", \
     $data using 0:5:xtic(1) with linespoints lw 2 pt 7 lc rgb "#ff7f0e" title "sentiment", \
     $data using 0:6:xtic(1) with linespoints lw 2 pt 7 lc rgb "#9467bd" title "chatbot"
