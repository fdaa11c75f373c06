package main

// -scaling: W3 (Immediate, batches of 1, 4,000 commits in total) against
// the number of concurrent writers, on the journal, bbolt and raw-group by
// default, every run in its own process like the rest; prints a markdown
// table of medians and, with -png, draws a line chart of them:
//
//	cd bench/peers && go run ./cmd/sidebyside -scaling -png ../w3-scaling.png

import (
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/seglog/journal/bench"
	"github.com/seglog/journal/bench/peers/internal/runs"
)

// scalingEngines are the engines of the scaling chart unless -engines says
// otherwise.
var scalingEngines = []string{"journal", bench.RawGroup, "bbolt"}

// scalingWriters are the writer counts unless -writers says otherwise.
const scalingWriters = "1,4,16,64,256"

func parseWriters(s string) ([]int, error) {
	var out []int
	for _, f := range runs.SplitList(s) {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("bad writer count %q", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no writer counts")
	}
	return out, nil
}

// runScaling runs W3 with every writer count on every engine, rounds
// times, interleaved (each round: every writer count, engine order rotated
// each round), prints the table to stdout and draws the chart to pngPath
// if it is not empty.
func runScaling(rounds int, engList, writersList, base, jsonOut, pngPath string, timeout time.Duration) error {
	names := runs.SplitList(engList)
	if len(names) == 0 {
		names = scalingEngines
	}
	var engs []engine
	for _, n := range names {
		e, ok := engineByName(n)
		if !ok {
			return fmt.Errorf("unknown engine %q", n)
		}
		engs = append(engs, e)
	}
	writers, err := parseWriters(writersList)
	if err != nil {
		return err
	}
	base, self, err := prepare(base)
	if err != nil {
		return err
	}
	// values[engine][writers] = one events/s per round
	values := map[string]map[int][]float64{}
	p99 := map[string]map[int][]float64{}
	for _, e := range engs {
		values[e.name] = map[int][]float64{}
		p99[e.name] = map[int][]float64{}
	}
	var allRuns []map[string]any
	start := time.Now()
	for r := 0; r < rounds; r++ {
		for _, n := range writers {
			k := r % len(engs)
			order := append(slices.Clone(engs[k:]), engs[:k]...)
			for _, e := range order {
				t0 := time.Now()
				m, err := spawnArgs(self, base, e.name, "W3", timeout, "-writers", strconv.Itoa(n))
				status := "ok"
				if err != nil {
					status = "FAILED: " + err.Error()
				}
				fmt.Fprintf(os.Stderr, "[%6.1fs] round %d/%d W3 writers=%-4d %-12s %5.1fs %s\n", time.Since(start).Seconds(), r+1, rounds, n, e.name, time.Since(t0).Seconds(), status)
				allRuns = append(allRuns, map[string]any{"round": r, "job": "W3", "writers": n, "engine": e.name, "metrics": m, "error": runs.ErrString(err)})
				if err == nil {
					values[e.name][n] = append(values[e.name][n], m["W3 events/s"])
					p99[e.name][n] = append(p99[e.name][n], m["W3 p99-us"])
				}
			}
		}
	}
	took := time.Since(start)
	if jsonOut != "" {
		b, _ := json.MarshalIndent(allRuns, "", " ")
		if err := os.WriteFile(jsonOut, b, 0o644); err != nil {
			return err
		}
	}
	printScalingTable(os.Stdout, engs, writers, values, p99, rounds, took)
	for _, r := range allRuns {
		if e := r["error"].(string); e != "" {
			fmt.Printf("\nFAILED: round %d W3 writers=%d on %s: %s", r["round"].(int)+1, r["writers"], r["engine"], e)
		}
	}
	fmt.Println()
	if pngPath != "" {
		title := fmt.Sprintf("W3 scaling: Immediate, batches of 1, 4,000 commits; median of %d rounds (bars: min-max)", rounds)
		if err := drawScaling(pngPath, title, engs, writers, values); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "wrote %s\n", pngPath)
	}
	return nil
}

func printScalingTable(w io.Writer, engs []engine, writers []int, values, p99 map[string]map[int][]float64, rounds int, took time.Duration) {
	host, _ := os.Hostname()
	fmt.Fprintf(w, "W3 scaling (Immediate, batches of 1, 4,000 commits in total, N concurrent writers): %d round(s), %s, GOMAXPROCS=%d, host %s, %s.\n",
		rounds, took.Round(time.Second), runtime.GOMAXPROCS(0), host, time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(w, "Cells: events/s median (min–max over rounds) · journal ÷ engine; p99 commit latency median in µs.\n\n")
	fmt.Fprint(w, "| writers |")
	for _, e := range engs {
		fmt.Fprintf(w, " %s events/s |", e.name)
	}
	for _, e := range engs {
		fmt.Fprintf(w, " %s p99-µs |", e.name)
	}
	fmt.Fprint(w, "\n|---|")
	for range 2 * len(engs) {
		fmt.Fprint(w, "---|")
	}
	fmt.Fprintln(w)
	for _, n := range writers {
		fmt.Fprintf(w, "| %d |", n)
		j := values["journal"][n]
		for _, e := range engs {
			v := values[e.name][n]
			if len(v) == 0 {
				fmt.Fprint(w, " – |")
				continue
			}
			m := runs.Median(v)
			cell := runs.Cell(v)
			if e.name != "journal" && len(j) > 0 && m != 0 {
				cell += fmt.Sprintf(" · %.2f", runs.Median(j)/m)
			}
			fmt.Fprintf(w, " %s |", cell)
		}
		for _, e := range engs {
			v := p99[e.name][n]
			if len(v) == 0 {
				fmt.Fprint(w, " – |")
				continue
			}
			fmt.Fprintf(w, " %s |", runs.Num(runs.Median(v)))
		}
		fmt.Fprintln(w)
	}
}

// minMaxBars are the points of one line with their min-max spread, as
// plotter.YErrorBars wants them (errors relative to the median).
type minMaxBars struct {
	plotter.XYs
	plotter.YErrors
}

func drawScaling(path, title string, engs []engine, writers []int, values map[string]map[int][]float64) error {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(11)
	p.X.Label.Text = "concurrent writers (log scale)"
	p.Y.Label.Text = "events/s (log scale)"
	p.X.Scale = plot.LogScale{}
	p.Y.Scale = plot.LogScale{}
	var xt []plot.Tick
	for _, n := range writers {
		xt = append(xt, plot.Tick{Value: float64(n), Label: strconv.Itoa(n)})
	}
	p.X.Tick.Marker = plot.ConstantTicks(xt)
	p.X.Min, p.X.Max = float64(slices.Min(writers))/1.3, float64(slices.Max(writers))*1.3
	p.Add(plotter.NewGrid())
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs, p.Legend.YOffs = vg.Points(10), -vg.Points(8)
	p.Legend.TextStyle.Font.Size = vg.Points(11)
	p.Legend.Padding = vg.Points(3)

	colors := []color.Color{
		color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, // red
		color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, // blue
		color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, // green
		color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}, // orange
		color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}, // purple
		color.RGBA{R: 0x8c, G: 0x56, B: 0x4b, A: 0xff}, // brown
		color.RGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff}, // grey
	}
	shapes := []draw.GlyphDrawer{draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.PyramidGlyph{}, draw.CrossGlyph{}, draw.PlusGlyph{}, draw.RingGlyph{}}
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for i, e := range engs {
		var bars minMaxBars
		for _, n := range writers {
			v := values[e.name][n]
			if len(v) == 0 {
				continue
			}
			m := runs.Median(v)
			bars.XYs = append(bars.XYs, plotter.XY{X: float64(n), Y: m})
			bars.YErrors = append(bars.YErrors, struct{ Low, High float64 }{m - slices.Min(v), slices.Max(v) - m})
			ymin, ymax = min(ymin, slices.Min(v)), max(ymax, slices.Max(v))
		}
		if len(bars.XYs) == 0 {
			continue
		}
		c := colors[i%len(colors)]
		line, pts, err := plotter.NewLinePoints(bars.XYs)
		if err != nil {
			return err
		}
		line.Color, line.Width = c, vg.Points(2)
		pts.Color, pts.Shape, pts.Radius = c, shapes[i%len(shapes)], vg.Points(3.5)
		eb, err := plotter.NewYErrorBars(bars)
		if err != nil {
			return err
		}
		eb.Color = c
		p.Add(line, pts, eb)
		p.Legend.Add(e.name, line, pts)
	}
	if math.IsInf(ymin, 0) {
		return fmt.Errorf("no data to draw")
	}
	p.Y.Min, p.Y.Max = ymin/1.5, ymax*1.5
	p.Y.Tick.Marker = logTicks{}
	return p.Save(9*vg.Inch, 5.5*vg.Inch, path)
}

// logTicks labels 1, 2, 5 × every power of ten in range (1k, 2k, 5k,
// 10k, ...), with unlabelled minor ticks at the other integers.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	var t []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		p := math.Pow(10, e)
		for m := 1.0; m < 10; m++ {
			v := m * p
			if v < lo || v > hi {
				continue
			}
			label := ""
			if m == 1 || m == 2 || m == 5 {
				label = tickLabel(v)
			}
			t = append(t, plot.Tick{Value: v, Label: label})
		}
	}
	return t
}

func tickLabel(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'g', -1, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'g', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
