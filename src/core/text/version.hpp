// Spock extension versions ("5.0.9", "5.0.10", "6.0.0-devel") compared as numbers.
#pragma once

#include <string>
#include <vector>

namespace zodan {

struct Version {
    std::vector<int> parts;   // numeric components, at least major and minor
    std::string suffix;       // e.g. "-devel"; does not take part in ordering

    // Throws std::invalid_argument naming the text when it is not a version.
    static Version parse(const std::string &text);
    std::string str() const;
    int major() const { return parts.size() > 0 ? parts[0] : 0; }
    int minor() const { return parts.size() > 1 ? parts[1] : 0; }
};

// <0, 0, >0 like strcmp; missing components count as 0 (5.0 == 5.0.0).
int compare(const Version &a, const Version &b);
bool same_major_minor(const Version &a, const Version &b);

// The oldest Spock the protocol supports.
inline const char *kMinimumSpockVersion = "5.0.9";

}  // namespace zodan
