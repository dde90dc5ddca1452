#include "tests/support/pki.h"

#include <memory>
#include <vector>

#include "tests/support/subprocess.h"

namespace portwatch::testing {

namespace {

void Run(Pki& pki, const std::vector<std::string>& argv) {
  if (!pki.problem.empty()) return;
  const CommandResult result = RunCommand(argv);
  if (result.exit_code != 0) pki.problem = argv[0] + " " + argv[1] + ": " + Describe(result);
}

void MakeCa(Pki& pki, const std::string& name) {
  Run(pki, {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", pki.dir.path() + "/" + name + ".key", "-out",
            pki.dir.path() + "/" + name + ".pem", "-days", "2", "-subj", "/CN=portwatch " + name});
}

void MakeServerCert(Pki& pki, const std::string& name, const std::string& common_name,
                    const std::string& alt_names, const std::string& serial) {
  const std::string base = pki.dir.path() + "/" + name;
  const std::string extensions = pki.dir.WriteFile(
      name + ".ext",
      "subjectAltName=" + alt_names + "\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n");
  Run(pki,
      {"openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
       "-nodes", "-keyout", base + ".key", "-out", base + ".csr", "-subj", "/CN=" + common_name});
  Run(pki, {"openssl", "x509", "-req", "-in", base + ".csr", "-CA", pki.ca, "-CAkey",
            pki.dir.path() + "/ca.key", "-set_serial", serial, "-days", "2", "-extfile", extensions,
            "-out", base + ".pem"});
}

std::unique_ptr<Pki> MakePki() {
  auto made = std::make_unique<Pki>();
  made->ca = made->dir.path() + "/ca.pem";
  made->other_ca = made->dir.path() + "/other_ca.pem";
  made->server_cert = made->dir.path() + "/server.pem";
  made->server_key = made->dir.path() + "/server.key";
  made->wrong_name_cert = made->dir.path() + "/wrong_name.pem";
  made->wrong_name_key = made->dir.path() + "/wrong_name.key";
  MakeCa(*made, "ca");
  MakeCa(*made, "other_ca");
  MakeServerCert(*made, "server", "localhost", "IP:127.0.0.1,IP:::ffff:7f00:1,DNS:localhost", "1");
  MakeServerCert(*made, "wrong_name", "other.example", "DNS:other.example", "2");
  return made;
}

}  // namespace

const Pki& TestPki() {
  static const std::unique_ptr<Pki> pki = MakePki();
  return *pki;
}

}  // namespace portwatch::testing
