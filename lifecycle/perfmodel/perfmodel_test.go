package perfmodel

import (
	"bufio"
	"context"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/novacron/perfpredict/lifecycle"
)

// nabSamples reads n rows of a NAB series from row offset, as samples.
func nabSamples(t *testing.T, path string, offset, n int) []lifecycle.Sample {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan()
	var out []lifecycle.Sample
	for i := 0; sc.Scan() && len(out) < n; i++ {
		if i < offset {
			continue
		}
		ts, val, _ := strings.Cut(sc.Text(), ",")
		tm, err := time.Parse("2006-01-02 15:04:05", ts)
		if err != nil {
			t.Fatal(err)
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, lifecycle.Sample{Time: tm, Values: []float64{v}})
	}
	return out
}

const machineTemp = "../../testdata/nab/realKnownCause/machine_temperature_system_failure.csv"

// TestTrainLoadForecast trains a small model on three days of NAB machine
// temperature through the lifecycle interfaces, registers it, loads it back
// from the registry and checks the loaded model forecasts exactly as the
// trained one, and well enough on the next six hours to pass the pipeline's
// gate.
func TestTrainLoadForecast(t *testing.T) {
	all := nabSamples(t, machineTemp, 4353, 3*288+72)
	train, held := all[:3*288], all[3*288:]
	tr := Trainer{Opt: Options{Model: perfpredictSmall()}}
	ctx := context.Background()
	res, err := tr.Train(ctx, lifecycle.TrainRequest{Model: "temp", Train: train, Dir: t.TempDir(), Reason: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Validation.N == 0 || res.Validation.Accuracy5 < 0.9 || len(res.Features) < 10 {
		t.Fatalf("validation %+v, %d features", res.Validation, len(res.Features))
	}
	reg, _ := lifecycle.Open(t.TempDir())
	info, err := reg.Add(lifecycle.Manifest{Model: "temp", Validation: res.Validation, Features: res.Features, Extra: res.Extra}, res.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Loader{}.Load(ctx, info.CheckpointPath)
	if err != nil {
		t.Fatal(err)
	}
	f0, _ := Loader{}.Load(ctx, res.Checkpoint)
	a, err := f.Forecast(train, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := f0.Forecast(train, 1)
	if a[0] != b[0] || math.IsNaN(a[0]) {
		t.Fatalf("registry copy forecasts %v, original %v", a, b)
	}
	m, err := lifecycle.HoldoutEvaluator{}.Evaluate(ctx, f, train, held)
	if err != nil {
		t.Fatal(err)
	}
	pers, _ := lifecycle.HoldoutEvaluator{}.Evaluate(ctx, persistence{}, train, held)
	t.Logf("validation %+v; held-out 6h: MAE %.3f MAPE %.2f%% accuracy5 %.3f (persistence MAE %.3f accuracy5 %.3f)",
		res.Validation, m.MAE, m.MAPE, m.Accuracy5, pers.MAE, pers.Accuracy5)
	if m.MAE > 2*pers.MAE {
		t.Errorf("model MAE %.3f, persistence %.3f", m.MAE, pers.MAE)
	}
	if m.Accuracy5 < 0.95 {
		t.Errorf("held-out accuracy5 %.3f", m.Accuracy5)
	}
}

func TestBadInput(t *testing.T) {
	ctx := context.Background()
	s := nabSamples(t, machineTemp, 0, 50)
	if _, err := (Trainer{}).Train(ctx, lifecycle.TrainRequest{Train: s, Dir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "need 20") {
		t.Errorf("short history: %v", err)
	}
	s[3].Values = []float64{1, 2}
	if _, err := (Trainer{}).Train(ctx, lifecycle.TrainRequest{Train: s, Dir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "sample 3") {
		t.Errorf("wrong width: %v", err)
	}
	bad := t.TempDir() + "/x.safetensors"
	os.WriteFile(bad, []byte("not a checkpoint"), 0o644)
	if _, err := (Loader{}).Load(ctx, bad); err == nil {
		t.Error("garbage checkpoint loaded")
	}
	if _, err := (Loader{}).Load(ctx, "../../testdata/fixtures/model_l2k3/model.safetensors"); err == nil || !strings.Contains(err.Error(), "not a checkpoint of perfmodel") {
		t.Errorf("foreign checkpoint: %v", err)
	}
}

type persistence struct{}

func (persistence) Forecast(h []lifecycle.Sample, horizon int) ([]float64, error) {
	return []float64{h[len(h)-1].Values[0]}, nil
}

// TestPipelineWithModel runs the continuous-learning pipeline with the LSTM
// for eight simulated days of machine temperature: daily retraining,
// validation against the Active version, promotion and serving swaps all go
// through the real model and the registry.
func TestPipelineWithModel(t *testing.T) {
	data := nabSamples(t, machineTemp, 4353, 8*288)
	clock := lifecycle.NewSimClock(data[0].Time)
	reg, err := lifecycle.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	reg.SetClock(clock.Now)
	next := 0
	src := lifecycle.SourceFunc(func(_ context.Context, now time.Time) ([]lifecycle.Sample, error) {
		s := data[next]
		s.Time = now
		next++
		return []lifecycle.Sample{s}, nil
	})
	var events []string
	var errs []string
	p, err := lifecycle.New(context.Background(), lifecycle.Config{
		Model: "machine_temperature", Registry: reg, Source: src, Clock: clock, SyncTraining: true,
		Trainer: Trainer{Opt: Options{Model: perfpredictSmall()}}, Loader: Loader{},
		Holdout: 6 * time.Hour, MinHoldout: 36,
		OnEvent: func(e lifecycle.Event) {
			if e.Kind == "promoted" || e.Kind == "rejected" || e.Kind == "skipped" {
				events = append(events, e.String())
			}
			if e.Err != nil {
				errs = append(errs, e.String())
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	for range data {
		p.Step(context.Background())
		clock.Advance(5 * time.Minute)
	}
	for _, e := range events {
		t.Log(e)
	}
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	cur := p.Serving.Current()
	if cur == nil {
		t.Fatal("nothing promoted in eight days")
	}
	if _, ok := cur.Forecaster.(*Forecaster); !ok || cur.Version.Extra["trainer"] != "perfmodel" {
		t.Fatalf("serving %T %v", cur.Forecaster, cur.Version.Extra)
	}
	infos, err := reg.Verify("machine_temperature")
	if err != nil || len(infos) < 5 {
		t.Fatalf("%d versions, %v", len(infos), err)
	}
}
