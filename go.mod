module github.com/seglog/journal

go 1.26.0

require (
	github.com/google/btree v1.1.3
	golang.org/x/sys v0.50.0
)

require github.com/klauspost/compress v1.18.7
