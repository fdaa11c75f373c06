package wal

import "github.com/seglog/journal/segment"

// compressFrame returns the frame to write for an encoded frame (header
// space, then the entries) and the codec of its payload. When the payload
// is compressed the result is in a pooled buffer, returned as bp for the
// caller to put back once the frame is written; otherwise frame itself is
// returned and bp is nil. It runs before l.mu is taken.
func (l *Log) compressFrame(frame []byte) (out []byte, codec uint8, bp *[]byte) {
	c := l.opts.compressor
	payload := frame[segment.FrameHeaderSize:]
	if c == nil || c.Codec() == segment.CodecNone || len(payload) < MinCompressBytes {
		return frame, segment.CodecNone, nil
	}
	bp = l.getBuf()
	out, codec = c.Compress((*bp)[:segment.FrameHeaderSize], payload)
	*bp = out
	if codec == segment.CodecNone {
		l.putBuf(bp)
		return frame, codec, nil
	}
	return out, codec, bp
}
