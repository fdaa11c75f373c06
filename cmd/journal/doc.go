// Command journal inspects, checks and repairs journal directories written
// by package github.com/seglog/journal.
//
// Usage:
//
//	journal <command> [arguments]
//
// The commands are:
//
//	inspect DIR [--route R] [--kind KIND] [--from SEQ] [--since TIME]
//	        [--oldest-first] [--limit N] [--json]
//	                 list entries, newest first (or oldest first)
//	stats DIR        segment, live event, disk usage, command ID and
//	                 compaction figures
//	verify DIR [--file-mode MODE]
//	                 check every record's framing and checksum, and say
//	                 what repair would do and lose; warn of files more
//	                 open than MODE (0600 unless given)
//	repair DIR [--yes] [--cut] [--file-mode MODE]
//	                 make a damaged journal open again, keeping every
//	                 record that verifies (--cut: cut it at its first
//	                 damaged record instead); its files get MODE
//	demo [DIR] [--keep]
//	                 write a sample route lifecycle into a new or empty
//	                 directory and show it
//	compact DIR [--file-mode MODE]
//	                 remove the events of removed routes now and show
//	                 the events and bytes before and after
//	commands DIR [--json]
//	                 list the live command IDs, sorted
//	dump DIR [SEG] [--from OFF] [--records]
//	                 print segment files' frames (and records) raw
//	backup DIR DST [--file-mode MODE]
//	                 copy the journal, consistent, into DST, a new or
//	                 empty directory (sealed segments hard-linked where
//	                 the file system allows)
//	export DIR       every event as JSON lines, oldest first, in the
//	                 replaced system's shape
//	import DIR [--file-mode MODE] < FILE
//	                 make a new journal in DIR (new or empty) from such
//	                 lines, keeping sequence numbers and timestamps
//
// Every command takes --help. Read commands (inspect, stats, verify,
// commands, export) take no lock and work while another process has the
// journal open; repair, compact and backup take the journal's lock and
// fail if another process has it open. 'journal --version' prints the version.
//
// Exit statuses: 0 ok; 1 damage found; 2 usage (bad arguments, a
// directory demo, backup or import will not write into, or a line of
// import's input it refuses); 3 could not check (DIR missing, not a
// directory, not a journal, a raft log directory, open in another process,
// unreadable, or another I/O error). Errors go to stderr, one line naming
// DIR once.
//
// --file-mode is the Options.FileMode the journal is opened with, in
// octal (0600, owner only, unless given; directories add the search bit
// to each read bit): the files repair, compact, backup and import write
// get it.
package main
