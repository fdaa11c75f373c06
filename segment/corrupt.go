package segment

import "fmt"

// CorruptError is damage found in a file: bytes that fail their checksum
// or framing in a way a torn write cannot explain. errors.Is(err,
// ErrCorrupt) holds for it, and errors.As gives where the damage is and
// what is wrong, so that no caller needs to read an error's text.
type CorruptError struct {
	File   string // path of the damaged file; "" where the check knows no file
	Offset int64  // byte offset of the damaged header or frame; -1 if unknown
	Detail string // what is wrong, e.g. "payload checksum 1a2b3c4d, want 5e6f7a8b"
}

// Corruptf returns a *CorruptError at file and off (-1: unknown) whose
// Detail is formatted from format and args.
func Corruptf(file string, off int64, format string, args ...any) error {
	return &CorruptError{File: file, Offset: off, Detail: fmt.Sprintf(format, args...)}
}

// Error renders the damage as "FILE at offset N: corrupt data: DETAIL",
// leaving out what is unknown.
func (e *CorruptError) Error() string {
	switch {
	case e.File == "":
		return fmt.Sprintf("%v: %s", ErrCorrupt, e.Detail)
	case e.Offset < 0:
		return fmt.Sprintf("%s: %v: %s", e.File, ErrCorrupt, e.Detail)
	}
	return fmt.Sprintf("%s at offset %d: %v: %s", e.File, e.Offset, ErrCorrupt, e.Detail)
}

// Is makes errors.Is(err, ErrCorrupt) hold.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// AtOffset places err at file and off. A *CorruptError that names no file
// is returned as a copy that does; any other error (an I/O error, or damage
// already placed) is wrapped with the place as context.
func AtOffset(err error, file string, off int64) error {
	if ce, ok := err.(*CorruptError); ok && ce.File == "" {
		return &CorruptError{File: file, Offset: off, Detail: ce.Detail}
	}
	return fmt.Errorf("%s at offset %d: %w", file, off, err)
}
