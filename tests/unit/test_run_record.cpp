// The run record's codec: what a step writes to the journal reads back the
// same, and a journal written by zodan 0.2.0 reads as the record it held.
#include <catch2/catch.hpp>

#include "core/journal/run_record.hpp"
#include "core/text/json.hpp"

using zodan::AddRecord;
using zodan::StepId;

namespace {

AddRecord round_trip(StepId step, const AddRecord &record) {
    AddRecord back;
    zodan::record_codec::decode(step, zodan::parse_json(zodan::record_codec::encode(step, record).str()), back);
    return back;
}

}  // namespace

TEST_CASE("the paths prepared read back as written", "[journal]") {
    AddRecord r;
    r.prepared.emplace();
    r.prepared->members = {"n1", "n2", "n3"};
    r.prepared->paths["n1"].slot = "spk_db_n1_sub_n1_n4";
    r.prepared->paths["n2"] = {"spk_db_n2_sub_n2_n4", 0x3000060, "default", "2026-01-01 00:00:00+00"};
    AddRecord back = round_trip(StepId::PrepareOtherNodes, r);
    REQUIRE(back.prepared);
    CHECK(back.prepared->members == r.prepared->members);
    CHECK(back.prepared->paths.at("n1").slot == "spk_db_n1_sub_n1_n4");
    CHECK(back.prepared->paths.at("n2").sync_lsn == 0x3000060);
    CHECK(back.prepared->paths.at("n2").sets == "default");
    CHECK(back.prepared->paths.at("n2").window_from == "2026-01-01 00:00:00+00");
    // A node may bear any name, "members" and "window_from" included.
    r.prepared->paths["window_from"].slot = "odd";
    CHECK(round_trip(StepId::PrepareOtherNodes, r).prepared->paths.at("window_from").slot == "odd");
}

TEST_CASE("a copy reads back complete only once its positions were written", "[journal]") {
    AddRecord r;
    zodan::SourceCopy &c = r.copy.emplace();
    c.skip_schema = {"scratch"};
    c.objects = zodan::CopyRecord{{"c:1", "n:2"}, std::nullopt, "1"};
    AddRecord started = round_trip(StepId::CopySource, r);
    REQUIRE(started.copy);
    CHECK_FALSE(started.copy->complete);
    CHECK_FALSE(started.has(StepId::CopySource));
    CHECK(started.copy->objects->before == std::vector<std::string>{"c:1", "n:2"});
    CHECK_FALSE(started.copy->objects->after);
    c.objects->after = std::vector<std::string>{"c:1", "n:2", "c:3"};
    c.consistent_point = 0x5000000;
    c.positions = {{"n2", 0x4000010}, {"n3", 0x4000020}};
    c.complete = true;
    AddRecord done = round_trip(StepId::CopySource, r);
    CHECK(done.has(StepId::CopySource));
    CHECK(done.copy->consistent_point == 0x5000000);
    CHECK(done.copy->positions == c.positions);
    CHECK(*done.copy->objects->after == *c.objects->after);
    CHECK(done.copy->skip_schema == c.skip_schema);
}

TEST_CASE("a journal of zodan 0.2.0 reads as the record it held", "[journal]") {
    // As 0.2.0 wrote prepare_other_nodes and copy_source (each node a key of its own).
    const std::string prepared = R"({"members": "n1,n2,n3", "n1": {"slot": "spk_db_n1_sub_n1_n4"},
        "n2": {"slot": "spk_db_n2_sub_n2_n4", "sync_lsn": "0/3000060", "sets": "default"},
        "n3": {"slot": "spk_db_n3_sub_n3_n4", "sync_lsn": "0/3000070", "sets": "default"},
        "window_from": {"n2": "2026-01-01 00:00:00+00", "n3": "-infinity"}})";
    const std::string copied = R"({"method": "zodan", "skip_schema": "{}", "before_copy": "{c:1}",
        "object_listing": "2", "after_copy": "{c:1,c:5}", "slot": "spk_db_n1_sub_n1_n4",
        "consistent_point": "0/5000000", "positions": {"n2": "0/4000010", "n3": "0/4000020"}, "tables": 4})";
    AddRecord r;
    zodan::record_codec::decode(StepId::CheckVersions, zodan::parse_json(R"({"nodes": 4, "copy_method": "zodan"})"), r);
    zodan::record_codec::decode(StepId::PrepareOtherNodes, zodan::parse_json(prepared), r);
    zodan::record_codec::decode(StepId::CopySource, zodan::parse_json(copied), r);
    CHECK(r.copy_method == zodan::CopyMethod::OwnCopy);
    REQUIRE(r.prepared);
    CHECK(r.prepared->paths.size() == 3);
    CHECK(r.prepared->paths.at("n3").sync_lsn == 0x3000070);
    CHECK(r.prepared->paths.at("n3").window_from == "-infinity");
    CHECK(r.has(StepId::CopySource));
    CHECK(r.copy->positions.at("n3") == 0x4000020);
    CHECK(*r.copy->objects->after == std::vector<std::string>{"c:1", "c:5"});
    // A run of 0.1.0 recorded no method: it copied with Spock's sync.
    AddRecord old;
    zodan::record_codec::decode(StepId::CheckVersions, zodan::parse_json(R"({"nodes": 4})"), old);
    CHECK(old.copy_method == zodan::CopyMethod::SpockSync);
}

TEST_CASE("the JSON reader reads what the journal holds, and says where it fails", "[journal]") {
    zodan::JsonValue v = zodan::parse_json(R"({"a": "x\"y\u00e9", "b": [1, -2.5e3, true, null], "c": {}})");
    CHECK(v.text_of("a") == "x\"y\xc3\xa9");
    CHECK(v.get("b")->items().size() == 4);
    CHECK(v.get("b")->items()[1].text() == "-2.5e3");
    CHECK(v.get("b")->items()[3].is_null());
    CHECK(v.get("c")->is_object());
    CHECK(v.text_of("missing", "fallback") == "fallback");
    CHECK_THROWS_WITH(zodan::parse_json(R"({"a": )"), Catch::Contains("malformed JSON at offset"));
    CHECK_THROWS(zodan::parse_json(R"({"a": 1} x)"));
}
