#include "core/text/text_array.hpp"

#include <algorithm>
#include <iterator>
#include <stdexcept>

namespace zodan {
namespace {

// Blanks as array_in/array_out see them (array_isspace).
bool is_array_space(char ch) {
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

bool equals_null_word(const std::string &s) {
    if (s.size() != 4) return false;
    const char *word = "null";
    for (size_t i = 0; i < 4; ++i)
        if ((s[i] | 0x20) != word[i]) return false;
    return true;
}

// array_out quotes exactly these elements; anything else reads back as is.
bool element_needs_quotes(const std::string &item) {
    if (item.empty() || equals_null_word(item)) return true;
    return std::any_of(item.begin(), item.end(), [](char ch) {
        return ch == '{' || ch == '}' || ch == ',' || ch == '"' || ch == '\\' || is_array_space(ch);
    });
}

std::string quote_element(const std::string &item) {
    std::string out = "\"";
    for (char ch : item) {
        if (ch == '"' || ch == '\\') out += '\\';
        out += ch;
    }
    return out + '"';
}

[[noreturn]] void bad_array(const std::string &literal, const char *why) {
    throw std::invalid_argument("malformed array literal \"" + literal + "\": " + why);
}

// Reads array elements one at a time from a '{...}' body; keeps the
// position so that errors can say what went wrong.
class ArrayReader {
public:
    explicit ArrayReader(const std::string &literal) : text_(literal) {}

    std::vector<std::string> read() {
        skip_dimensions();
        skip_blanks();
        expect('{', "must start with \"{\"");
        std::vector<std::string> items;
        skip_blanks();
        if (peek() == '}') {
            ++pos_;
        } else {
            read_elements(items);
        }
        skip_blanks();
        if (pos_ != text_.size()) bad_array(text_, "junk after closing right brace");
        return items;
    }

private:
    char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
    bool at_end() const { return pos_ >= text_.size(); }

    void expect(char ch, const char *why) {
        if (peek() != ch || at_end()) bad_array(text_, why);
        ++pos_;
    }

    void skip_blanks() {
        while (!at_end() && is_array_space(text_[pos_])) ++pos_;
    }

    // "[1:3]={a,b,c}" is how PostgreSQL prints arrays whose lower bound is
    // not 1; the bounds do not matter for a list of names.
    void skip_dimensions() {
        skip_blanks();
        if (peek() != '[') return;
        const size_t eq = text_.find('=', pos_);
        if (eq == std::string::npos) bad_array(text_, "missing \"=\" after array dimensions");
        pos_ = eq + 1;
    }

    void read_elements(std::vector<std::string> &items) {
        for (;;) {
            skip_blanks();
            std::string value;
            const bool is_null = read_element(value);
            if (!is_null) items.push_back(std::move(value));
            skip_blanks();
            if (peek() == ',' && !at_end()) {
                ++pos_;
                continue;
            }
            expect('}', "expected \",\" or \"}\"");
            return;
        }
    }

    // Returns true for an unquoted NULL, which stands for a null element.
    bool read_element(std::string &value) {
        if (peek() == '"' && !at_end()) {
            read_quoted(value);
            return false;
        }
        return read_unquoted(value);
    }

    void read_quoted(std::string &value) {
        ++pos_;
        for (;;) {
            if (at_end()) bad_array(text_, "unterminated quoted element");
            char ch = text_[pos_++];
            if (ch == '"') return;
            if (ch == '\\') {
                if (at_end()) bad_array(text_, "unexpected end after backslash");
                ch = text_[pos_++];
            }
            value += ch;
        }
    }

    bool read_unquoted(std::string &value) {
        bool escaped = false;
        size_t keep = 0;  // length without trailing blanks that were not escaped
        for (;;) {
            if (at_end()) bad_array(text_, "unexpected end of input");
            char ch = text_[pos_];
            if (ch == ',' || ch == '}') break;
            if (ch == '{' || ch == '"') bad_array(text_, "unexpected character inside element");
            ++pos_;
            if (ch == '\\') {
                if (at_end()) bad_array(text_, "unexpected end after backslash");
                value += text_[pos_++];
                escaped = true;
                keep = value.size();
                continue;
            }
            value += ch;
            if (!is_array_space(ch)) keep = value.size();
        }
        value.resize(keep);
        if (value.empty()) bad_array(text_, "empty unquoted element");
        return !escaped && equals_null_word(value);
    }

    const std::string &text_;
    size_t pos_ = 0;
};

}  // namespace

std::string text_array_literal(const std::vector<std::string> &items) {
    std::string out = "{";
    for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += ',';
        out += element_needs_quotes(items[i]) ? quote_element(items[i]) : items[i];
    }
    return out + '}';
}

std::vector<std::string> parse_text_array(const std::string &literal) {
    return ArrayReader(literal).read();
}

}  // namespace zodan
