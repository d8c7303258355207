// policies.h — the factories of the start policies, one per policy; the
// registry in start_policy.cc maps names to them. Internal to
// src/platform/policy.
#pragma once

#include <memory>

#include "platform/policy/start_policy.h"

namespace confide::platform::policy {

using PolicyFactory = std::unique_ptr<StartPolicy> (*)(PolicyContext&, const WorkloadProfile&,
                                                       const PolicyOptions&);

std::unique_ptr<StartPolicy> MakeSgx1Cold(PolicyContext&, const WorkloadProfile&,
                                          const PolicyOptions&);
std::unique_ptr<StartPolicy> MakeSgx1SwHash(PolicyContext&, const WorkloadProfile&,
                                            const PolicyOptions&);
std::unique_ptr<StartPolicy> MakeSgx2Eaug(PolicyContext&, const WorkloadProfile&,
                                          const PolicyOptions&);
std::unique_ptr<StartPolicy> MakeClemmysBatch(PolicyContext&, const WorkloadProfile&,
                                              const PolicyOptions&);
std::unique_ptr<StartPolicy> MakeEnturbo(PolicyContext&, const WorkloadProfile&,
                                         const PolicyOptions&);
std::unique_ptr<StartPolicy> MakeTemplateFork(PolicyContext&, const WorkloadProfile&,
                                              const PolicyOptions&);
std::unique_ptr<StartPolicy> MakeSgxWarm(PolicyContext&, const WorkloadProfile&,
                                         const PolicyOptions&);
std::unique_ptr<StartPolicy> MakePieCold(PolicyContext&, const WorkloadProfile&,
                                         const PolicyOptions&);
std::unique_ptr<StartPolicy> MakePieWarm(PolicyContext&, const WorkloadProfile&,
                                         const PolicyOptions&);

}  // namespace confide::platform::policy
