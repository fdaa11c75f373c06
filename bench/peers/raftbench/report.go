package raftbench

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/seglog/journal/bench/peers/internal/runs"
)

// Figure is one row of the table.
type Figure struct {
	Key    string // metric key
	Label  string // row label
	Short  string // chart label
	Higher bool   // higher is better
}

// Figures are the table's rows, in order.
var Figures = []Figure{
	{B1Rate, "StoreLogs, batches of 1: entries/s", "batch 1\nentries/s", true},
	{B1P50, "StoreLogs, batches of 1: p50 µs", "batch 1\np50", false},
	{B1P99, "StoreLogs, batches of 1: p99 µs", "batch 1\np99", false},
	{B1Faults, "StoreLogs, batches of 1: minor page faults per call", "batch 1\nfaults", false},
	{B64Rate, "StoreLogs, batches of 64: entries/s", "batch 64\nentries/s", true},
	{B64P50, "StoreLogs, batches of 64: p50 µs (per call)", "batch 64\np50", false},
	{B64P99, "StoreLogs, batches of 64: p99 µs (per call)", "batch 64\np99", false},
	{GetRate, "GetLog, random index: ops/s", "GetLog\nops/s", true},
	{GetP50, "GetLog, random index: p50 µs", "GetLog\np50", false},
	{GetP99, "GetLog, random index: p99 µs", "GetLog\np99", false},
	{OpenMs, "open after the fill (+ First/LastIndex, GetLog): ms", "open\nms", false},
	{KillMs, "open after SIGKILL of a fill like it (no Close): ms", "open after\nkill ms", false},
	{DelFront, "DeleteRange of the front, inside one segment: p50 µs per call", "delete\nfront p50", false},
	{DelHalf, "DeleteRange of the first half of a fill like the open row's: ms", "delete\nhalf ms", false},
	{DiskB, "disk bytes/entry after the fill (file sizes)", "disk\nB/entry", false},
	{AllocB, "disk bytes/entry after the fill (allocated blocks)", "allocated\nB/entry", false},
	{FillRate, "fill (the entries of the open row), batches of 64: entries/s", "fill\nentries/s", true},
}

// Results holds every round's value: Results[key][store].
type Results map[string]map[string][]float64

// Add records one run's metrics.
func (r Results) Add(store string, m map[string]float64) {
	for k, v := range m {
		if r[k] == nil {
			r[k] = map[string][]float64{}
		}
		r[k][store] = append(r[k][store], v)
	}
}

// Median returns the median of store's values of key.
func (r Results) Median(key, store string) (float64, bool) {
	v := r[key][store]
	if len(v) == 0 {
		return 0, false
	}
	return runs.Median(v), true
}

// Journal is the name of the journal's store.
const Journal = "journal"

// PrintTable writes the markdown table of medians: one row per figure,
// one column per store, cells "median (min–max) · journal ÷ store", and
// a last column telling whether the journal beats both peers.
func (r Results) PrintTable(w io.Writer, stores []string) {
	fmt.Fprint(w, "| figure |")
	for _, s := range stores {
		fmt.Fprintf(w, " %s |", s)
	}
	hasJ := slices.Contains(stores, Journal)
	if hasJ {
		fmt.Fprint(w, " journal best? |")
	}
	fmt.Fprint(w, "\n|---|")
	for range stores {
		fmt.Fprint(w, "---|")
	}
	if hasJ {
		fmt.Fprint(w, "---|")
	}
	fmt.Fprintln(w)
	for _, f := range Figures {
		if r[f.Key] == nil {
			continue
		}
		arrow := "↑"
		if !f.Higher {
			arrow = "↓"
		}
		fmt.Fprintf(w, "| %s %s |", f.Label, arrow)
		j, jok := r.Median(f.Key, Journal)
		best := jok
		for _, s := range stores {
			v := r[f.Key][s]
			m, ok := r.Median(f.Key, s)
			if !ok {
				fmt.Fprint(w, " – |")
				continue
			}
			cell := runs.Cell(v)
			if jok && s != Journal && m != 0 {
				cell += fmt.Sprintf(" · %.2f", j/m)
				if (f.Higher && j <= m) || (!f.Higher && j >= m) {
					best = false
				}
			}
			fmt.Fprintf(w, " %s |", cell)
		}
		if hasJ {
			switch {
			case !jok:
				fmt.Fprint(w, " – |")
			case best:
				fmt.Fprint(w, " ✅ |")
			default:
				fmt.Fprint(w, " ❌ |")
			}
		}
		fmt.Fprintln(w)
	}
}

// Relative returns store's performance on figure f relative to baseline's
// (baseline = 1, above 1: store better than baseline).
func (r Results) Relative(f Figure, store, baseline string) (float64, bool) {
	b, ok1 := r.Median(f.Key, baseline)
	v, ok2 := r.Median(f.Key, store)
	if !ok1 || !ok2 || b <= 0 || v <= 0 {
		return 0, false
	}
	if f.Higher {
		return v / b, true
	}
	return b / v, true
}

// DrawChart draws every figure's stores relative to baseline (normally
// the journal) as grouped bars on a log scale: the baseline is the line
// at 1, a bar above it is a store doing better than the baseline on that
// row, below it worse. Each bar is labelled with its factor.
func (r Results) DrawChart(path, title string, stores []string, baseline string) error {
	var figs []Figure
	for _, f := range Figures {
		if _, ok := r.Median(f.Key, baseline); ok {
			figs = append(figs, f)
		}
	}
	var others []string
	for _, s := range stores {
		if s != baseline {
			others = append(others, s)
		}
	}
	if len(figs) == 0 || len(others) == 0 {
		return fmt.Errorf("nothing to draw relative to %s", baseline)
	}
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(11)
	p.Y.Label.Text = fmt.Sprintf("× %s (log scale; above 1: better)", baseline)
	p.Add(plotter.NewGrid())
	colors := []color.Color{
		color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, // blue
		color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, // green
		color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}, // orange
		color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}, // purple
	}
	width := vg.Points(16)
	lo, hi := 0.0, 0.0
	for i, s := range others {
		vals := make(plotter.Values, len(figs))
		var labels []string
		var xys plotter.XYs
		for k, f := range figs {
			x, ok := r.Relative(f, s, baseline)
			if !ok {
				continue
			}
			vals[k] = math.Log2(x)
			lo, hi = min(lo, vals[k]), max(hi, vals[k])
			labels = append(labels, factor(x))
			off := (float64(i) - float64(len(others)-1)/2) * 0.32
			y := vals[k]
			if y >= 0 {
				y += 0.08
			} else {
				y -= 0.08
			}
			xys = append(xys, plotter.XY{X: float64(k) + off, Y: y})
		}
		bars, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return err
		}
		bars.Color = colors[i%len(colors)]
		bars.LineStyle.Width = 0
		bars.Offset = vg.Length(float64(i)-float64(len(others)-1)/2) * width
		p.Add(bars)
		p.Legend.Add(s, bars)
		lab, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels})
		if err != nil {
			return err
		}
		for j := range lab.TextStyle {
			lab.TextStyle[j].Font.Size = vg.Points(7)
			lab.TextStyle[j].XAlign = draw.XCenter
			if xys[j].Y < 0 {
				lab.TextStyle[j].YAlign = draw.YTop
			}
		}
		p.Add(lab)
	}
	one := plotter.NewFunction(func(float64) float64 { return 0 })
	one.Color = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	one.Width = vg.Points(2)
	p.Add(one)
	p.Legend.Add(baseline+" = 1", one)
	p.Legend.Top = true
	p.Legend.TextStyle.Font.Size = vg.Points(10)

	names := make([]string, len(figs))
	for k, f := range figs {
		names[k] = f.Short
	}
	p.NominalX(names...)
	p.X.Tick.Label.Font.Size = vg.Points(8)
	p.X.Min, p.X.Max = -0.6, float64(len(figs))-0.4
	lo, hi = math.Floor(lo-0.4), math.Ceil(hi+0.6)
	p.Y.Min, p.Y.Max = lo, hi
	var ticks []plot.Tick
	for e := lo; e <= hi; e++ {
		label := factor(math.Exp2(e))
		if e < 0 {
			label = fmt.Sprintf("1/%.0f×", math.Exp2(-e))
		}
		ticks = append(ticks, plot.Tick{Value: e, Label: label})
	}
	p.Y.Tick.Marker = plot.ConstantTicks(ticks)
	return p.Save(11*vg.Inch, 5.5*vg.Inch, path)
}

// factor formats a ratio: 2.3×, 0.41×.
func factor(x float64) string {
	switch {
	case x >= 10:
		return fmt.Sprintf("%.0f×", x)
	case x >= 1:
		return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", x), "0"), ".") + "×"
	default:
		return fmt.Sprintf("%.2g×", x)
	}
}
