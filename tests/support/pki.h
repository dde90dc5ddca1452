// Certificates made with the openssl command, once per test process, for the tests of TLS: two
// unrelated CAs, a server certificate from the first for IP 127.0.0.1 (also as the IPv6 address
// ::ffff:7f00:1) and localhost, and one from it for another name only (its subject's CN too,
// since httplib falls back to the CN).
#pragma once

#include <string>

#include "tests/support/temp_dir.h"

namespace portwatch::testing {

struct Pki {
  TempDir dir;
  std::string problem;  // empty when every file was made
  std::string ca;
  std::string other_ca;
  std::string server_cert;
  std::string server_key;
  std::string wrong_name_cert;
  std::string wrong_name_key;
};

// Made on first use; check `problem` before relying on the files.
const Pki& TestPki();

}  // namespace portwatch::testing
