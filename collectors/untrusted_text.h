// Untrusted text: the bytes other programs choose — process names (prctl), executable paths,
// command lines, users' names, receivers' answers — shown to people safely.
//
// A hostile name must not forge a line of a table or a log (newline, carriage return), drive the
// terminal (ESC, BEL and the other C0 and C1 controls), or reverse what follows it on screen
// (bidirectional embeddings, overrides, isolates and marks: "/tmp/\u202Egpj.exe"). Every table,
// message and log line that carries such text goes through one of these functions; JSON output
// keeps the exact value (the JSON encoder escapes controls, and a program reading it gets the
// bytes the kernel gave). Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace portwatch::collectors {

// The character at `offset`: its code point and byte count. A byte that starts no valid UTF-8
// sequence (overlong, surrogate, cut short) is one character, U+FFFD, with `valid` false.
struct Utf8Char {
  char32_t code_point = 0;
  size_t size = 1;
  bool valid = false;
};
Utf8Char DecodeUtf8(std::string_view text, size_t offset);

// Whether showing code point `c` could forge a line, control the terminal or reorder the text
// around it: C0 and C1 controls, DEL, the line and paragraph separators, and every bidirectional
// formatting character (U+061C, U+200E-U+200F, U+202A-U+202E, U+2066-U+2069).
bool IsUnsafeCodePoint(char32_t c);

// For terminals and logs: `text` with each unsafe character, each byte that is not UTF-8 and each
// backslash written as a visible escape — "\n", "\r", "\t", "\x1b", "\u202e", "\xff" (a stray
// byte), "\\" — so the output is one line, reads in order and names exactly what was there.
// Text without any is returned as it is.
std::string EscapeUntrusted(std::string_view text);
void AppendEscapedUntrusted(std::string& out, std::string_view text);

// For chat messages, whose receivers render their own markup: each unsafe character and each byte
// that is not UTF-8 replaced by U+FFFD, so something visibly was there.
std::string ReplaceUntrusted(std::string_view text);

}  // namespace portwatch::collectors
