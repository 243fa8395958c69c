# perf/bench's overload chart: goodput (200s answered within 100 ms, per second) against
# the offered rate, one line per server. Called by perf/lib/openloop.py as:
#   gnuplot -e "datafile='overload.dat'; outfile='x.png'; ncols=N; capacity=C" \
#       overload.gnuplot
# overload.dat: a header row ("offered" and the server names), then one row per offered
# rate, '-' where a server did not run.
set terminal pngcairo size 900,560 font "sans,10"
set output outfile
set datafile missing "-"
set key left top autotitle columnhead
set grid
set xlabel "offered load (req/s)"
set ylabel "goodput (200 within 100 ms, req/s)"
set xrange [0:*]
set yrange [0:capacity * 1.15]
set title "/sync/sleep?ms=10: goodput vs offered load (pool capacity dashed)"
set linetype 1 lc rgb "#d62728" lw 2 pt 7
set linetype 2 lc rgb "#ff9896" lw 2 pt 5
set linetype 3 lc rgb "#9467bd" lw 2 pt 9
set arrow from graph 0, first capacity to graph 1, first capacity nohead dt 2 lc rgb "#555555"
plot for [i=2:ncols+1] datafile using 1:i with linespoints
