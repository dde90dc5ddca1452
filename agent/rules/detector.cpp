#include "agent/rules/detector.h"

#include "agent/rules/subject.h"

namespace portwatch::agent::rules {

void Detector::AboutSocket(const collectors::Snapshot& snapshot, size_t index, std::string reason,
                           std::vector<Finding>& findings) const {
  const collectors::Socket& socket = snapshot.sockets[index];
  Finding finding = Make(std::move(reason), SocketSubject(socket, snapshot.PrimaryOwner(socket)),
                         SocketSubjectKind(socket));
  finding.socket = static_cast<int64_t>(index);
  findings.push_back(std::move(finding));
}

Finding Detector::Make(std::string reason, std::string subject, SubjectKind kind) const {
  Finding finding;
  finding.rule = std::string(name_);
  finding.severity = settings_.severity;
  finding.mitre = settings_.mitre;
  finding.reason = std::move(reason);
  finding.subject = std::move(subject);
  finding.kind = kind;
  return finding;
}

}  // namespace portwatch::agent::rules
