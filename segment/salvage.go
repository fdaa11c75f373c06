package segment

// Salvaged is a frame Salvage found.
type Salvaged struct {
	Offset int64  // in the file
	Count  uint32 // entries
	// First and Last are its entries' sequence numbers.
	First, Last uint64
	// Damaged marks a frame at the start of the data whose header is
	// intact but whose payload fails its checksum (see Salvage): its
	// sequence numbers come from the header, its entries are unreadable.
	Damaged bool
}

// Salvage looks for frames in data, bytes of a segment file starting at
// offset base (after its file header): at every byte, a frame whose header
// and payload checksums hold and whose entries decode is taken whole. With
// atDamage, data starts at damage a scan stopped at, and a frame there
// with an intact header but a damaged payload is taken too, as Damaged
// (not a sparse one: its last sequence number is not in the header). It
// returns the frames and the count of non-zero bytes in none of them.
func Salvage(data []byte, base int64, atDamage bool) ([]Salvaged, int64) {
	var out []Salvaged
	var undecoded int64
	for i := 0; i < len(data); {
		if fr, size, ok := salvageAt(data[i:], i == 0 && atDamage); ok {
			fr.Offset = base + int64(i)
			out = append(out, fr)
			i += int(size)
			continue
		}
		if data[i] != 0 {
			undecoded++
		}
		i++
	}
	return out, undecoded
}

// salvageAt reports the frame starting at b[0], if there is one, and its
// size; with damaged, also one whose payload fails its checksum.
func salvageAt(b []byte, damaged bool) (Salvaged, int64, bool) {
	if !plausibleFrameHeader(b) {
		return Salvaged{}, 0, false
	}
	h, err := ParseFrameHeader(b[:FrameHeaderSize])
	if err != nil || h.Size() > int64(len(b)) {
		return Salvaged{}, 0, false
	}
	if stored, err := framePayload(h, b[:h.Size()]); err == nil {
		p, err := DecodePayload(nil, h, stored)
		if err != nil {
			return Salvaged{}, 0, false
		}
		last, err := LastSeq(h, p)
		if err != nil {
			return Salvaged{}, 0, false
		}
		return Salvaged{Count: h.Count, First: h.FirstSeq, Last: last}, h.Size(), true
	}
	if damaged && h.Flags&FlagSparse == 0 {
		return Salvaged{Count: h.Count, First: h.FirstSeq, Last: h.FirstSeq + uint64(h.Count) - 1, Damaged: true}, h.Size(), true
	}
	return Salvaged{}, 0, false
}
