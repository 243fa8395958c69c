# perf/bench's chart: requests/s and server CPU time per request, per case and server.
# Called by perf/lib/report.py as:
#   gnuplot -e "datafile='chart.dat'; outfile='x.png'; ncols=N; nrows=M; subtitle='...'" \
#       chart.gnuplot
# chart.dat holds two blocks (index 0: req/s, index 1: CPU us/request), each with a header
# row of server names, one row per case, '-' where a server did not run a case.
# Log scales: the servers span three orders of magnitude.

width = nrows > 6 ? 400 + 130 * nrows : 1400
set terminal pngcairo size width,1000 font "sans,10"
set output outfile
set datafile missing "-"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key outside right top vertical autotitle columnhead
set grid ytics mytics
set logscale y
set xtics nomirror rotate by -20
set format y "%.0s%c"
set xrange [-0.6:nrows - 0.4]
set lmargin at screen 0.07
set rmargin at screen 0.84
set linetype 1 lc rgb "#d62728"
set linetype 2 lc rgb "#7f7f7f"
set linetype 3 lc rgb "#2ca02c"
set linetype 4 lc rgb "#1f77b4"
set linetype 5 lc rgb "#ff7f0e"
set linetype 6 lc rgb "#9467bd"

set multiplot layout 2,1 title "ringo and peers, one core each (".subtitle.")"
set title "requests per second (median of rounds, higher is better)"
set ylabel "req/s"
set yrange [100:*]
plot for [i=2:ncols+1] datafile index 0 using i:xtic(1)

set title "server CPU time per request (lower is better)"
set ylabel "µs / request"
set format y "%g"
unset key
set yrange [*:*]
plot for [i=2:ncols+1] datafile index 1 using i:xtic(1)
unset multiplot
