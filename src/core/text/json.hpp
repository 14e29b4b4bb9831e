// Just enough JSON writing for the step outputs the journal records.
#pragma once

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
    std::string str() const;
    bool empty() const { return fields_.empty(); }

private:
    std::vector<std::pair<std::string, std::string>> fields_;
};

}  // namespace zodan
