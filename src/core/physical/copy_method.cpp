#include <chrono>
#include <random>

#include "core/physical/physical.hpp"

namespace zodan::physical {

PhysicalState &state_of(AddRun &run) {
    if (!run.physical) {
        run.physical = std::make_shared<PhysicalState>();
        // Names this run's rows on S (probe, fence): no other run's.
        std::random_device rd;
        std::mt19937_64 gen(rd() ^ static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
        char hex[17];
        snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(gen()));
        run.physical->token = "zodan:" + run.args.new_name + ":" + hex;
    }
    return *run.physical;
}

CopyMethod choose_copy_method(CopyMethodSetting setting, bool standby) {
    if (setting == CopyMethodSetting::Physical && !standby)
        throw UserError("zodan.copy_method is physical, but this server is not in recovery",
                        "A physical add turns a hot standby of the source into the new node; this server is a primary.",
                        "Make the new node a hot standby of the source (docs/physical.md) and call spock.add_node on "
                        "it, or SET zodan.copy_method = 'auto' to copy into this empty primary.");
    if (setting == CopyMethodSetting::Logical && standby)
        throw UserError("zodan.copy_method is logical, but this server is a hot standby",
                        "A logical add copies into an empty primary; a standby cannot be written to.",
                        "SET zodan.copy_method = 'auto' (or 'physical') to add this standby of the source by "
                        "promoting it, or promote it and empty its database first.");
    return standby ? CopyMethod::Physical : CopyMethod::OwnCopy;
}

}  // namespace zodan::physical
