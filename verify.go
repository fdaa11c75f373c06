package journal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/seglog/journal/keyset"
	"github.com/seglog/journal/segment"
	"github.com/seglog/journal/vfs"
	"github.com/seglog/journal/wal"
	"github.com/seglog/journal/wal/check"
)

// Verify checks every file of the journal in dir that Open reads: the
// log's segments and index files (see check.Verify) and the command IDs.
// The report has damage exactly where Open would refuse the journal or a
// read would fail; a torn tail Open cuts is a warning. It takes no lock and
// changes nothing. The error is for a failure to look (a missing
// directory, one holding no journal, wrapping wal.ErrNotFound, a read
// error); damage is in the report.
//
// The directory and each file in it more open than DefaultFileMode
// allows (as Open warns of) is a warning; VerifyFileMode checks against
// another Options.FileMode.
func Verify(dir string) (check.VerifyReport, error) {
	return VerifyFileMode(dir, 0)
}

// VerifyFileMode is Verify for a journal opened with Options.FileMode
// fileMode (0 meaning DefaultFileMode): the directory and each file in it
// more open than that are warnings. A fileMode Open refuses is an error
// wrapping ErrInvalid.
func VerifyFileMode(dir string, fileMode os.FileMode) (check.VerifyReport, error) {
	if err := vfs.CheckFileMode(fileMode); err != nil {
		return check.VerifyReport{}, fmt.Errorf("verify: %w: %w", ErrInvalid, err)
	}
	r, err := check.Verify(dir, nil)
	if err != nil {
		return r, err
	}
	loose, err := vfs.LooseModes(vfs.Default(), dir, fileMode)
	if err != nil {
		return r, fmt.Errorf("verify file modes: %w", err)
	}
	for _, lm := range loose {
		r.Warnings = append(r.Warnings, wal.Finding{File: lm.Path,
			Detail: fmt.Sprintf("mode %v is more open than %v (Options.FileMode): others may read what the journal holds", lm.Mode, lm.Max)})
	}
	mark, err := commandMark(nil, dir)
	if err != nil {
		mark = keyset.Mark{} // a damaged manifest is in the log's report
	}
	if _, _, err := keyset.ReadKeysMarked(nil, dir, commandSetName, mark); err != nil {
		var ce *segment.CorruptError
		switch {
		case errors.As(err, &ce):
			r.Damage = append(r.Damage, wal.Finding{File: ce.File, Offset: max(ce.Offset, 0), Detail: fmt.Sprintf("%v: %s", ErrCorrupt, ce.Detail)})
		case errors.Is(err, ErrCorrupt):
			r.Damage = append(r.Damage, wal.Finding{File: filepath.Join(dir, commandSetName+".delta"), Detail: err.Error()})
		default:
			return r, fmt.Errorf("verify command IDs: %w", err)
		}
	}
	return r, nil
}
