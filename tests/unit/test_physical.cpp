// The physical path's pieces that need no server (docs/physical.md): the
// copy method chosen from zodan.copy_method and what the new node is, and
// what a physical run records for a resumed call.
#include <catch2/catch.hpp>

#include "core/journal/run_record.hpp"
#include "core/physical/physical.hpp"
#include "core/physical/window.hpp"
#include "core/text/json.hpp"
#include "core/plan/add_run.hpp"
#include "core/plan/plan.hpp"
#include "fake_cluster.hpp"

using zodan::AddRecord;
using zodan::CopyMethod;
using zodan::StepId;

TEST_CASE("the copy method follows the new node, and a setting it contradicts is refused", "[physical]") {
    using zodan::physical::choose_copy_method;
    CHECK(choose_copy_method(zodan::CopyMethodSetting::Auto, true) == CopyMethod::Physical);
    CHECK(choose_copy_method(zodan::CopyMethodSetting::Auto, false) == CopyMethod::OwnCopy);
    CHECK(choose_copy_method(zodan::CopyMethodSetting::Physical, true) == CopyMethod::Physical);
    CHECK(choose_copy_method(zodan::CopyMethodSetting::Logical, false) == CopyMethod::OwnCopy);
    CHECK_THROWS_WITH(choose_copy_method(zodan::CopyMethodSetting::Physical, false),
                      Catch::Contains("zodan.copy_method is physical, but this server is not in recovery"));
    CHECK_THROWS_WITH(choose_copy_method(zodan::CopyMethodSetting::Logical, true),
                      Catch::Contains("zodan.copy_method is logical, but this server is a hot standby"));
}

TEST_CASE("a physical run's record reads back: the method, and the promotion before the step completes",
          "[physical][journal]") {
    AddRecord r;
    r.copy_method = CopyMethod::Physical;
    AddRecord versions;
    zodan::record_codec::decode(StepId::CheckVersions,
                                zodan::parse_json(zodan::record_codec::encode(StepId::CheckVersions, r).str()), versions);
    CHECK(versions.copy_method == CopyMethod::Physical);

    zodan::SourceCopy &c = r.copy.emplace();
    c.method = CopyMethod::Physical;
    c.promoted_at = 0x7000028;
    c.positions = {{"n2", 0x4000010}, {"n3", 0x4000020}};
    auto round_trip = [&] {
        AddRecord back;
        zodan::record_codec::decode(StepId::CopySource,
                                    zodan::parse_json(zodan::record_codec::encode(StepId::CopySource, r).str()), back);
        return back;
    };
    // Promoted, not yet registered: the positions are held, the step is not done.
    AddRecord promoted = round_trip();
    REQUIRE(promoted.copy);
    CHECK(promoted.copy->method == CopyMethod::Physical);
    CHECK(promoted.copy->promoted_at == 0x7000028);
    CHECK(promoted.copy->positions == c.positions);
    CHECK_FALSE(promoted.has(StepId::CopySource));
    CHECK_FALSE(promoted.copy->objects);  // a rollback drops no data of N's
    c.consistent_point = c.promoted_at;
    c.complete = true;
    AddRecord done = round_trip();
    CHECK(done.has(StepId::CopySource));
    CHECK(done.copy->consistent_point == 0x7000028);
    CHECK(done.copy->positions == c.positions);
}

TEST_CASE("where a promoted standby's replay ended, from its timeline history file", "[physical]") {
    using zodan::physical::switchpoint_of;
    // N promoted from a source on timeline 1: one line.
    CHECK(switchpoint_of("1\t0/306EE48\tno recovery target specified\n") == 0x306EE48);
    // A source that was promoted itself once: the newest line is N's.
    CHECK(switchpoint_of("1\t0/3000000\tno recovery target specified\n\n"
                         "2\t1/A0000D8\tno recovery target specified\n") == 0x10A0000D8);
    CHECK(switchpoint_of("# a comment\n") == 0);
    CHECK(switchpoint_of("") == 0);
}

TEST_CASE("zodan.verify_data = auto compares after a logical copy and not after a physical one", "[physical]") {
    fake::Cluster c;
    zodan::AddRun run(c, zodan::AddNodeArgs{"n1", "host=a", "n4", "host=b"});
    const zodan::Step &verify = zodan::step(StepId::VerifyData);
    REQUIRE(verify.idle != nullptr);
    auto idle_with = [&](zodan::VerifySetting setting, CopyMethod method) {
        c.verify = setting;
        run.record.copy.emplace().method = method;
        return verify.idle(run);
    };
    CHECK(idle_with(zodan::VerifySetting::Auto, CopyMethod::OwnCopy).empty());
    CHECK_THAT(idle_with(zodan::VerifySetting::Auto, CopyMethod::Physical),
               Catch::Contains("a physical copy is the source's WAL replayed"));
    CHECK(idle_with(zodan::VerifySetting::On, CopyMethod::Physical).empty());
    CHECK_THAT(idle_with(zodan::VerifySetting::Off, CopyMethod::OwnCopy), Catch::Contains("zodan.verify_data is off"));
}
