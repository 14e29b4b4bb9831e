#include "core/journal/run_record.hpp"

#include <stdexcept>

#include "core/statements/spock_sql.hpp"
#include "core/util.hpp"
#include "core/text/text_array.hpp"

namespace zodan {

namespace {

// The key of copy_source's output that holds the object lists' version.
const char *const kObjectListingKey = "object_listing";

// The journal's words for the copy method (an older run wrote "spock").
const char *method_word(CopyMethod m) {
    return m == CopyMethod::OwnCopy ? "zodan" : m == CopyMethod::Physical ? "physical" : "spock";
}

CopyMethod method_of(const std::string &word) {
    if (word == "zodan") return CopyMethod::OwnCopy;
    if (word == "spock") return CopyMethod::SpockSync;
    if (word == "physical") return CopyMethod::Physical;
    throw std::runtime_error("the journal names an unknown copy method \"" + word + "\"");
}

JsonObject encode_prepared(const PreparedPaths &p) {
    JsonObject paths, marks;
    for (const auto &[node, path] : p.paths) {
        JsonObject one;
        one.add("slot", path.slot);
        if (path.sync_lsn) one.add("sync_lsn", format_lsn(path.sync_lsn));
        if (!path.sets.empty()) one.add("sets", path.sets);
        paths.add_raw(node, one.str());
        if (!path.window_from.empty()) marks.add(node, path.window_from);
    }
    return JsonObject().add("members", join(p.members, ",")).add_raw("paths", paths.str()).add_raw("window_from",
                                                                                                 marks.str());
}

PathIn path_of(const JsonValue &v) { return {v.text_of("slot"), parse_lsn(v.text_of("sync_lsn", "0/0")), v.text_of("sets"), ""}; }

PreparedPaths decode_prepared(const JsonValue &out) {
    PreparedPaths p;
    p.members = split(out.text_of("members"), ",");
    if (const JsonValue *paths = out.get("paths")) {
        for (const auto &[node, v] : paths->members()) p.paths[node] = path_of(v);
    } else {
        // zodan 0.2.0 wrote each node's path as a key of its own.
        for (const auto &[key, v] : out.members())
            if (v.is_object() && key != "window_from" && v.get("slot")) p.paths[key] = path_of(v);
    }
    if (const JsonValue *marks = out.get("window_from"))
        for (const auto &[node, v] : marks->members()) p.paths[node].window_from = v.text();
    return p;
}

JsonObject encode_copy(const SourceCopy &c) {
    JsonObject out;
    out.add("method", method_word(c.method)).add("skip_schema", text_array_literal(c.skip_schema));
    if (c.objects) {
        out.add("before_copy", text_array_literal(c.objects->before)).add(kObjectListingKey, c.objects->listing);
        if (c.objects->after)
            out.add("after_copy", text_array_literal(*c.objects->after));
        else
            out.add_raw("after_copy", "null");  // an earlier attempt's list is not this copy's
    }
    // A physical run holds its positions from the promotion on (before
    // the step completes: a resumed call needs them).
    if (c.complete || c.promoted_at) {
        JsonObject positions;
        for (const auto &[node, lsn] : c.positions) positions.add(node, format_lsn(lsn));
        out.add_raw("positions", positions.str());
    }
    if (c.promoted_at) out.add("promoted_at", format_lsn(c.promoted_at));
    if (c.complete) out.add("consistent_point", format_lsn(c.consistent_point));
    return out;
}

SourceCopy decode_copy(const JsonValue &out) {
    SourceCopy c;
    c.method = method_of(out.text_of("method", "spock"));
    c.skip_schema = parse_text_array(out.text_of("skip_schema", "{}"));
    if (out.get("before_copy")) {
        CopyRecord objects;
        objects.before = parse_text_array(out.text_of("before_copy"));
        const std::string after = out.text_of("after_copy");
        if (!after.empty()) objects.after = parse_text_array(after);
        objects.listing = out.text_of(kObjectListingKey, "1");
        // A list of another version cannot be compared with this one's.
        if (objects.listing != "1" && objects.listing != sql::kObjectListing)
            throw UserError("the unfinished add's copy was recorded by another version of zodan (object listing " +
                                objects.listing + ")",
                            "", "Roll it back with the zodan version that ran it.");
        c.objects = std::move(objects);
    }
    if (out.get("consistent_point")) {
        c.complete = true;
        c.consistent_point = parse_lsn(out.text_of("consistent_point"));
    }
    if (out.get("promoted_at")) c.promoted_at = parse_lsn(out.text_of("promoted_at"));
    if (c.complete || c.promoted_at)
        if (const JsonValue *positions = out.get("positions"))
            for (const auto &[node, v] : positions->members()) c.positions[node] = parse_lsn(v.text());
    return c;
}

}  // namespace

bool AddRecord::has(StepId step) const {
    switch (step) {
    case StepId::PrepareOtherNodes: return prepared.has_value();
    case StepId::CopySource: return copy && copy->complete;
    case StepId::MirrorReplicationSets: return sets.has_value();
    default: return true;
    }
}

namespace record_codec {

JsonObject encode(StepId step, const AddRecord &record) {
    switch (step) {
    case StepId::CheckVersions: return JsonObject().add("copy_method", method_word(record.copy_method));
    case StepId::PrepareOtherNodes: return record.prepared ? encode_prepared(*record.prepared) : JsonObject();
    case StepId::CopySource: return record.copy ? encode_copy(*record.copy) : JsonObject();
    case StepId::MirrorReplicationSets:
        return record.sets ? JsonObject().add("deferred", text_array_literal(record.sets->deferred)) : JsonObject();
    default: return JsonObject();
    }
}

void decode(StepId step, const JsonValue &output, AddRecord &record) {
    switch (step) {
    // A run begun before the copy method was recorded used Spock's sync.
    case StepId::CheckVersions: record.copy_method = method_of(output.text_of("copy_method", "spock")); break;
    case StepId::PrepareOtherNodes: record.prepared = decode_prepared(output); break;
    case StepId::CopySource: record.copy = decode_copy(output); break;
    case StepId::MirrorReplicationSets:
        record.sets = MirroredSets{parse_text_array(output.text_of("deferred", "{}"))};
        break;
    default: break;
    }
}

}  // namespace record_codec

}  // namespace zodan
