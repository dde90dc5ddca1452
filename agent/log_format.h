// How log lines look on stderr: on a terminal or in a file, "2026-12-06T22:30:00.000 warning
// text"; under systemd, where stderr is the journal, "<4>text" — no timestamp (the journal keeps
// its own) and the syslog priority as the prefix the journal reads, so that
// `journalctl -u portwatch -p warning` finds the warnings. Either way the message's control and
// bidirectional characters are visible escapes (collectors/untrusted_text.h), so text quoted from
// a hostile process cannot forge a line. A formatter belongs to one sink, which serialises it.
#pragma once

#include <spdlog/formatter.h>

#include <memory>

namespace portwatch::agent {

// True when `fd` is the stream systemd connected to the journal: `journal_stream` is the value
// of $JOURNAL_STREAM ("DEVICE:INODE" of that stream), and a descriptor redirected elsewhere no
// longer matches it.
bool IsJournalStream(int fd, const char* journal_stream);

// The formatter for stderr, in the journal's form or with timestamps.
std::unique_ptr<spdlog::formatter> StderrLogFormatter(bool journal);

}  // namespace portwatch::agent
