// Just enough JSON for the journal: writing a step's output, and reading
// one back (the run record's codec, core/plan/run_record.hpp).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace zodan {

std::string json_quote(const std::string &s);

class JsonObject {
public:
    JsonObject &add(const std::string &key, const std::string &value);
    JsonObject &add(const std::string &key, const char *value) { return add(key, std::string(value)); }
    JsonObject &add(const std::string &key, long long value);
    JsonObject &add_raw(const std::string &key, const std::string &json);  // already JSON
    // Every field of `other`, replacing a field of the same key.
    JsonObject &merge(const JsonObject &other);
    std::string str() const;
    bool empty() const { return fields_.empty(); }

private:
    std::vector<std::pair<std::string, std::string>> fields_;
};

// A parsed JSON value. Numbers keep their text (LSNs and counts are read
// back exactly as written); objects keep their keys' order.
class JsonValue {
public:
    enum class Kind { Null, Bool, Number, String, Array, Object };
    Kind kind() const { return kind_; }
    bool is_null() const { return kind_ == Kind::Null; }
    bool is_object() const { return kind_ == Kind::Object; }
    // A string's value, a number's or a boolean's text; "" for null.
    // Throws std::runtime_error for an array or an object.
    std::string text() const;
    // An object's member, or nullptr (also when this is no object).
    const JsonValue *get(const std::string &key) const;
    // The text of an object's member, or `fallback` when absent or null.
    std::string text_of(const std::string &key, const std::string &fallback = "") const;
    const std::vector<std::pair<std::string, JsonValue>> &members() const { return members_; }
    const std::vector<JsonValue> &items() const { return items_; }

private:
    friend class JsonParser;
    Kind kind_ = Kind::Null;
    std::string scalar_;
    std::vector<std::pair<std::string, JsonValue>> members_;
    std::vector<JsonValue> items_;
};

// Parses one JSON document; throws std::runtime_error saying where it fails.
JsonValue parse_json(const std::string &text);

}  // namespace zodan
