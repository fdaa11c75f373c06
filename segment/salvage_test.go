package segment

import (
	"bytes"
	"testing"
)

// TestSalvageFindsFramesAmongGarbage: whole frames are found wherever they
// start, bytes in no frame are counted (zeros are not), and a frame with a
// damaged payload is taken only at the damage a scan stopped at.
func TestSalvageFindsFramesAmongGarbage(t *testing.T) {
	enc := NewEncoder(nil)
	frame := func(first uint64, n int) []byte {
		recs := make([]Record, n)
		for i := range recs {
			recs[i] = Record{Key: []byte("route-x"), Value: []byte{byte(i)}}
		}
		f, err := enc.Batch(recs, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.SetFirst(first)
		h := f.h
		h.Length = uint32(len(f.buf) - FrameHeaderSize)
		PutFrameHeader(f.buf, h)
		return bytes.Clone(f.buf)
	}
	damaged := frame(1, 3)
	damaged[len(damaged)-1] ^= 0x40
	a, b := frame(10, 2), frame(12, 5)
	garbage := []byte{7, 0, 0, 9, 9}
	data := bytes.Join([][]byte{damaged, garbage, a, make([]byte, 100), b}, nil)

	for _, atDamage := range []bool{true, false} {
		got, undecoded := Salvage(data, 1000, atDamage)
		want := []Salvaged{
			{Offset: 1000 + int64(len(damaged)+len(garbage)), Count: 2, First: 10, Last: 11},
			{Offset: 1000 + int64(len(damaged)+len(garbage)+len(a)+100), Count: 5, First: 12, Last: 16},
		}
		wantUndecoded := int64(3) // the garbage's non-zero bytes
		if atDamage {
			want = append([]Salvaged{{Offset: 1000, Count: 3, First: 1, Last: 3, Damaged: true}}, want...)
		} else {
			wantUndecoded += int64(len(damaged) - bytes.Count(damaged, []byte{0}))
		}
		if len(got) != len(want) || undecoded != wantUndecoded {
			t.Fatalf("atDamage=%v: %+v with %d undecoded; want %+v with %d", atDamage, got, undecoded, want, wantUndecoded)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("atDamage=%v: frame %d is %+v, want %+v", atDamage, i, got[i], want[i])
			}
		}
	}
}
