// Detector: one built-in check over a snapshot, producing findings.
//
// Detectors are created from DetectorsConfig by MakeDetectors (detectors/detectors.h) and run by
// the Engine once per interval, in one thread; a detector may keep state between intervals (the
// fan-out window). The engine applies each detector's exceptions and the accepted subjects, so a
// detector only says what it sees.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "agent/rules/baseline.h"
#include "agent/rules/finding.h"
#include "agent/rules/rule.h"
#include "collectors/snapshot.h"

namespace portwatch::agent::rules {

struct DetectionInput {
  const collectors::Snapshot& snapshot;
  int64_t now_ms = 0;
  // nullptr while there is no baseline yet (it is being learned): nothing is unexpected then.
  const Baseline* baseline = nullptr;
  // The previous snapshot's host counters, to see what changed; nullopt on the first interval.
  std::optional<collectors::HostNetwork> previous_host;
};

class Detector {
 public:
  Detector(std::string_view name, const DetectorSettings& settings)
      : name_(name), settings_(settings) {}
  virtual ~Detector() = default;
  Detector(const Detector&) = delete;
  Detector& operator=(const Detector&) = delete;

  virtual void Inspect(const DetectionInput& input, std::vector<Finding>& findings) = 0;

  std::string_view name() const { return name_; }
  const DetectorSettings& settings() const { return settings_; }

 protected:
  // A finding about socket `index` of the snapshot, under the socket's own subject.
  void AboutSocket(const collectors::Snapshot& snapshot, size_t index, std::string reason,
                   std::vector<Finding>& findings) const;
  // A finding with an explicit subject.
  Finding Make(std::string reason, std::string subject, SubjectKind kind) const;

 private:
  std::string_view name_;
  DetectorSettings settings_;
};

}  // namespace portwatch::agent::rules
