// Running a program of this server's own bin directory (pg_dump,
// pg_restore) from the procedure's backend: its output read through pipes
// in the same wait as the latch, so a cancel kills it at once; the
// password of the node it connects to travels in its environment, never on
// its command line (which every OS user can read).
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <dirent.h>
#include <tuple>

#include "core/text/conninfo.hpp"
#include "core/text/secrets.hpp"

extern "C" {
#include "postgres.h"
#include "miscadmin.h"
#include "libpq-fe.h"
#include "catalog/pg_tablespace_d.h"
#include "storage/fd.h"
#include "storage/latch.h"
#include "common/file_utils.h"  // PG_TEMP_FILE_PREFIX since PostgreSQL 17; storage/fd.h before
}

#include "pg/backend_runtime.hpp"
#include "pg/call_secrets.hpp"
#include "pg/guard.hpp"
#include "pg/wait_set.hpp"

extern char **environ;

namespace zodan::pg {

namespace {

// A file descriptor closed when it goes.
class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(Fd &&o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
    Fd &operator=(Fd &&o) noexcept {
        reset();
        fd_ = o.fd_;
        o.fd_ = -1;
        return *this;
    }
    ~Fd() { reset(); }
    int get() const { return fd_; }
    void reset() {
        if (fd_ >= 0) close(fd_);
        fd_ = -1;
    }

private:
    int fd_ = -1;
};

// A child process that is killed and reaped if it is still running when
// this goes (a cancel, an error elsewhere).
class Child {
public:
    explicit Child(pid_t pid) : pid_(pid) {}
    ~Child() {
        if (pid_ <= 0) return;
        kill(pid_, SIGTERM);
        for (int i = 0; i < 100; ++i) {  // up to a second, then for good
            if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
            usleep(10000);
        }
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
    }
    // Reaps it; its exit status as waitpid gives it.
    int wait() {
        int status = 0;
        while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        pid_ = -1;
        return status;
    }

private:
    pid_t pid_;
};

// "key='value' ..." of a DSN without its password (libpq's own reading).
std::pair<std::string, std::string> split_password(const std::string &dsn) {
    char *err = nullptr;
    std::unique_ptr<PQconninfoOption, void (*)(PQconninfoOption *)> options(PQconninfoParse(dsn.c_str(), &err),
                                                                              PQconninfoFree);
    if (err) PQfreemem(err);
    if (!options) throw UserError("a DSN is not a valid connection string", "DSN: " + mask_dsn(dsn));
    std::string conninfo, password;
    for (PQconninfoOption *o = options.get(); o->keyword; ++o) {
        if (!o->val) continue;
        if (std::strcmp(o->keyword, "password") == 0) {
            password = o->val;
            continue;
        }
        std::string quoted;
        for (const char *c = o->val; *c; ++c) {
            if (*c == '\'' || *c == '\\') quoted += '\\';
            quoted += *c;
        }
        conninfo += std::string(conninfo.empty() ? "" : " ") + o->keyword + "='" + quoted + "'";
    }
    return {conninfo, password};
}

std::string bin_directory() {
    std::string path = my_exec_path;
    return path.substr(0, path.rfind('/'));
}

void set_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

}  // namespace

std::string BackendRuntime::run_program(const Program &program) {
    const std::string path = bin_directory() + "/" + program.name;
    std::vector<std::string> args{path};
    for (const std::string &a : program.args) args.push_back(a);

    // The child's environment: the server's, less anything that would let
    // it pick credentials or another server, plus the node's password.
    const bool may_use_server_credentials = caller_is_superuser();
    std::vector<std::string> env;
    for (char **e = environ; *e; ++e) {
        const std::string var = *e;
        const std::string key = var.substr(0, var.find('='));
        if (key == "PGPASSWORD" || key == "PGOPTIONS" || key == "PGAPPNAME" ||
            (!may_use_server_credentials && (key == "PGPASSFILE" || key == "PGSERVICEFILE" || key == "PGSERVICE")))
            continue;
        env.push_back(var);
    }
    if (!may_use_server_credentials) {
        env.push_back("PGPASSFILE=/dev/null");
        env.push_back("PGSERVICEFILE=/dev/null");
    }
    env.push_back("PGAPPNAME=zodan: " + program.name);
    for (const auto &[k, v] : program.env) env.push_back(k + "=" + v);
    if (!program.dsn.empty()) {
        auto [conninfo, password] = split_password(program.dsn);
        args.push_back("--dbname=" + conninfo);
        if (!password.empty()) env.push_back("PGPASSWORD=" + password);
    }

    int out_pipe[2], err_pipe[2];
    if (pipe(out_pipe) != 0) throw UserError(program.what + " failed: cannot make a pipe: " + strerror(errno));
    Fd out_read(out_pipe[0]), out_write(out_pipe[1]);
    if (pipe(err_pipe) != 0) throw UserError(program.what + " failed: cannot make a pipe: " + strerror(errno));
    Fd err_read(err_pipe[0]), err_write(err_pipe[1]);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out_write.get(), 1);
    posix_spawn_file_actions_adddup2(&actions, err_write.get(), 2);
    posix_spawn_file_actions_addclose(&actions, out_read.get());
    posix_spawn_file_actions_addclose(&actions, err_read.get());
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);      // the backend may have signals blocked
    posix_spawnattr_setsigdefault(&attr, &all);    // and some ignored
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    std::vector<char *> argv, envp;
    for (std::string &a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (std::string &e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, path.c_str(), &actions, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    for (std::string &e : env) std::fill(e.begin(), e.end(), '\0');  // the password, among others
    if (rc != 0) throw UserError(program.what + " failed: cannot run " + path + ": " + strerror(rc));
    Child child(pid);
    out_write.reset();
    err_write.reset();
    set_nonblocking(out_read.get());
    set_nonblocking(err_read.get());

    std::string out, err;
    {
        WaitSet waits(2);
        const int out_pos = waits.add_socket(out_read.get(), WL_SOCKET_READABLE);
        const int err_pos = waits.add_socket(err_read.get(), WL_SOCKET_READABLE);
        bool out_open = true, err_open = true;
        char buf[8192];
        while (out_open || err_open) {
            waits.wait(program.while_running ? 250 : 1000);  // a cancel throws here; Child then kills the program
            if (program.while_running) program.while_running();  // so may this
            for (auto [fd, open, text, pos] : {std::make_tuple(out_read.get(), &out_open, &out, out_pos),
                                               std::make_tuple(err_read.get(), &err_open, &err, err_pos)}) {
                if (!*open) continue;
                for (;;) {
                    ssize_t n = read(fd, buf, sizeof buf);
                    if (n > 0) {
                        text->append(buf, static_cast<size_t>(n));
                        continue;
                    }
                    if (n == 0) {
                        *open = false;
                        waits.set_events(pos, 0);
                    }
                    break;  // EAGAIN: nothing more for now
                }
            }
        }
    }
    const int status = child.wait();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::string why = call_secrets().scrub(err);
        while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
        const std::string first_line = why.substr(0, why.find('\n'));
        throw UserError(program.what + " failed: " + (first_line.empty() ? program.name + " exited with an error" : first_line),
                        why, "The full output of " + program.name + " is in DETAIL; nothing of it was kept.");
    }
    return out;
}

namespace {

class TempDirectory : public ScratchDir {
public:
    explicit TempDirectory(std::string path) : path_(std::move(path)) {}
    ~TempDirectory() override {
        // Its files only (the dump); no subdirectories are made in it.
        if (DIR *d = opendir(path_.c_str())) {
            while (struct dirent *e = readdir(d))
                if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
                    unlink((path_ + "/" + e->d_name).c_str());
            closedir(d);
        }
        rmdir(path_.c_str());
    }
    const std::string &path() const override { return path_; }
    std::string write_file(const std::string &name, const std::string &bytes) override {
        const std::string file = path_ + "/" + name;
        Fd fd(open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
        if (fd.get() < 0) throw UserError("cannot create " + file + ": " + strerror(errno));
        for (size_t done = 0; done < bytes.size();) {
            const ssize_t n = write(fd.get(), bytes.data() + done, bytes.size() - done);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) throw UserError("cannot write " + file + ": " + strerror(errno));
            done += static_cast<size_t>(n);
        }
        return file;
    }
    long long size_of(const std::string &name) const override {
        struct stat st;
        return stat((path_ + "/" + name).c_str(), &st) == 0 ? static_cast<long long>(st.st_size) : -1;
    }

private:
    std::string path_;
};

}  // namespace

std::unique_ptr<ScratchDir> BackendRuntime::scratch_dir() {
    // In the server's own temporary area (base/pgsql_tmp of the default
    // tablespace), readable by its OS user only, and named as the server
    // names its temporary files: should this backend die before removing
    // it, the server's next start removes it (RemovePgTempFiles in fd.c).
    const std::string area = pg_call([] {
        char path[MAXPGPATH];
        TempTablespacePath(path, DEFAULTTABLESPACE_OID);
        // Made on first use, as PostgreSQL's own temporary files make it.
        if (MakePGDirectory(path) < 0 && errno != EEXIST)
            ereport(ERROR, (errcode_for_file_access(), errmsg("could not create directory \"%s\": %m", path)));
        return std::string(DataDir) + "/" + path;
    });
    std::string pattern = area + "/" + PG_TEMP_FILE_PREFIX + std::to_string(MyProcPid) + ".zodan-copy.XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data())) throw UserError(std::string("cannot make a scratch directory: ") + strerror(errno));
    return std::make_unique<TempDirectory>(buf.data());
}

}  // namespace zodan::pg
