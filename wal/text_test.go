package wal

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
)

// textEnum is what Durability and Compression both are: a small enum with
// a name for each known value.
type textEnum interface {
	~uint8
	fmt.Stringer
	encoding.TextMarshaler
}

// textCase is one known value and its text.
type textCase[T textEnum] struct {
	v    T
	text string
}

// checkTextRoundTrip proves each known value prints, marshals (also inside
// JSON) and unmarshals as its text, that other letter cases parse too, and
// that unknown text and values are ErrInvalid.
func checkTextRoundTrip[T textEnum, P interface {
	*T
	encoding.TextUnmarshaler
}](t *testing.T, known []textCase[T], otherCase map[string]T, unknownText []string, unknownValue T) {
	t.Helper()
	for _, c := range known {
		if got := c.v.String(); got != c.text {
			t.Errorf("%d.String() = %q, want %q", uint8(c.v), got, c.text)
		}
		b, err := c.v.MarshalText()
		if err != nil || string(b) != c.text {
			t.Errorf("%v.MarshalText() = %q, %v, want %q", c.v, b, err, c.text)
		}
		got := unknownValue
		if err := P(&got).UnmarshalText(b); err != nil || got != c.v {
			t.Errorf("UnmarshalText(%q) = %v, %v, want %v", b, got, err, c.v)
		}
		j, err := json.Marshal(map[string]T{"v": c.v})
		if want := `{"v":"` + c.text + `"}`; err != nil || string(j) != want {
			t.Errorf("json.Marshal = %s, %v, want %s", j, err, want)
		}
	}
	for text, want := range otherCase {
		var got T
		if err := P(&got).UnmarshalText([]byte(text)); err != nil || got != want {
			t.Errorf("UnmarshalText(%q) = %v, %v, want %v", text, got, err, want)
		}
	}
	for _, text := range unknownText {
		got := known[len(known)-1].v
		err := P(&got).UnmarshalText([]byte(text))
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("UnmarshalText(%q) = %v, want ErrInvalid", text, err)
		}
		if got != known[len(known)-1].v {
			t.Errorf("UnmarshalText(%q) changed the value to %v", text, got)
		}
	}
	if _, err := unknownValue.MarshalText(); !errors.Is(err, ErrInvalid) {
		t.Errorf("%v.MarshalText() = %v, want ErrInvalid", unknownValue, err)
	}
}

func TestDurabilityTextIsItsConstantName(t *testing.T) {
	checkTextRoundTrip(t,
		[]textCase[Durability]{{Immediate, "Immediate"}, {Eventual, "Eventual"}},
		map[string]Durability{"immediate": Immediate, "EVENTUAL": Eventual, "eVeNtUaL": Eventual},
		[]string{"", "0", "1", "sync", "Immediate ", " Eventual", "Durability(2)", "Immediat"},
		Durability(2))
	if got := Durability(7).String(); got != "Durability(7)" {
		t.Errorf("Durability(7).String() = %q", got)
	}
}

func TestCompressionTextIsItsCodecName(t *testing.T) {
	checkTextRoundTrip(t,
		[]textCase[Compression]{{CompressionDefault, "default"}, {CompressionNone, "none"}, {CompressionS2, "s2"}, {CompressionZstd, "zstd"}},
		map[string]Compression{"S2": CompressionS2, "ZSTD": CompressionZstd, "None": CompressionNone, "Default": CompressionDefault},
		[]string{"", "0", "snappy", "gzip", "s2 ", "zstd\n", "Compression(4)", "CompressionS2"},
		Compression(4))
	if got := Compression(9).String(); got != "Compression(9)" {
		t.Errorf("Compression(9).String() = %q", got)
	}
}

// A config file's durability and compression parse through encoding/json
// (and so any text-based format), and a typo there is ErrInvalid.
func TestOptionsSettingsDecodeFromConfigText(t *testing.T) {
	var cfg struct {
		Durability  Durability
		Compression Compression
	}
	if err := json.Unmarshal([]byte(`{"Durability":"eventual","Compression":"zstd"}`), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Durability != Eventual || cfg.Compression != CompressionZstd {
		t.Fatalf("decoded %+v", cfg)
	}
	if err := json.Unmarshal([]byte(`{"Compression":"lz4"}`), &cfg); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unknown compression in JSON: %v, want ErrInvalid", err)
	}
}
