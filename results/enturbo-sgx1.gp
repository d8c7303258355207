# enturbo-sgx1.gp: EnTurbo startup speedup vs measurement workers, SGX1 (EnTurbo DAC'24)
# Written by `confide bench reproduce`; draw it again with: gnuplot enturbo-sgx1.gp
if (!exists("outfile")) outfile = "enturbo-sgx1.png"
set terminal pngcairo size 1000,600 font "sans,10"
set output outfile
set title "EnTurbo startup speedup vs measurement workers, SGX1 (EnTurbo DAC'24)"
set xlabel "measurement workers"
set ylabel "speedup over sgx1-cold"
set datafile missing "?"
set key outside right top vertical
set grid ytics
$data << EOD
"1" 1.36398 1.36032 1.73469 1.40309 1.46617
"2" 2.02626 2.02085 2.67638 2.15503 2.1864
"4" 2.6452 2.63811 2.93401 2.84271 2.85757
"8" 3.12201 3.11365 2.93401 3.3825 3.32837
"16" 3.43126 3.42216 2.93401 3.67117 3.32837
EOD
set xtics nomirror
set offsets 0.2, 0.2, 0, 0
plot $data using 0:2:xtic(1) with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "enc-file", \
     $data using 0:3:xtic(1) with linespoints lw 2 pt 7 lc rgb "#d62728" title "auth", \
     $data using 0:4:xtic(1) with linespoints lw 2 pt 7 lc rgb "#2ca02c" title "face-detector", \
     $data using 0:5:xtic(1) with linespoints lw 2 pt 7 lc rgb "#ff7f0e" title "sentiment", \
     $data using 0:6:xtic(1) with linespoints lw 2 pt 7 lc rgb "#9467bd" title "chatbot"
