/* mlpipe's read watcher: an LD_PRELOAD interposer on the C library's file calls.
 *
 * Loaded into a step's kernel (and, through the environment, into every process it
 * starts), it appends one line per file event to the log named by $MLPIPE_WATCH_LOG,
 * read at each call, so a long-lived process (the kernel, a loky worker) writes to
 * whatever step is current and writes nothing while no step is:
 *
 *     OP \t errno \t pid \t size \t mtime_ns \t ctime_ns \t inode \t path \n
 *
 * OP: R opened for reading, U opened read-write, W opened for writing (created or
 * truncated), S looked up (stat/access; logged only when it failed), D folder opened,
 * L shared library loaded, O a program started that this library cannot follow (the
 * path is followed by " (statically linked)" etc.). The fingerprint fields are those of
 * the file as it was opened (fstat on the new descriptor), zeros otherwise. Paths are
 * absolute (relative ones resolved against the cwd or the *at call's folder). Paths
 * under a prefix listed in $MLPIPE_WATCH_SKIP (colon-separated) are not logged.
 *
 * Each line is one write() on an O_APPEND descriptor, so processes and threads never
 * interleave within a line. errno is preserved across every wrapper. exec and
 * posix_spawn put LD_PRELOAD and MLPIPE_WATCH_LOG back into an environment that lost
 * them (`subprocess.run(..., env={...})`).
 *
 * Built by `python -m mlpipe_jupyter.watch.build` (make install) or on first use.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <link.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>

#define ENV_LOG "MLPIPE_WATCH_LOG"
#define ENV_SKIP "MLPIPE_WATCH_SKIP"
#define MAX_SKIP 32

extern char **environ;

static __thread int busy;          /* inside a wrapper: calls made by the watcher itself */
static volatile int lock_word;     /* guards the log descriptor and the skip list */
static int log_fd = -1;
static dev_t log_dev;
static ino_t log_ino;
static char log_path[PATH_MAX];
static char skip_buf[8192];
static const char *skips[MAX_SKIP];
static size_t skip_len[MAX_SKIP];
static int nskips;
static char lib_path[PATH_MAX];    /* this library, for LD_PRELOAD in a new environment */

static int (*real_open)(const char *, int, ...);
/* resolved at load: the exec wrappers may run in a vfork child, where dlsym is unsafe */
static int (*real_execve)(const char *, char *const[], char *const[]);
static int (*real_execvpe)(const char *, char *const[], char *const[]);
static int (*real_spawn)(pid_t *, const char *, const posix_spawn_file_actions_t *,
                         const posix_spawnattr_t *, char *const[], char *const[]);
static int (*real_spawnp)(pid_t *, const char *, const posix_spawn_file_actions_t *,
                          const posix_spawnattr_t *, char *const[], char *const[]);

static void lock(void) { while (__atomic_exchange_n(&lock_word, 1, __ATOMIC_ACQUIRE)) {} }
static void unlock(void) { __atomic_store_n(&lock_word, 0, __ATOMIC_RELEASE); }

static void *next(const char *name) { return dlsym(RTLD_NEXT, name); }

static void after_fork_child(void) { lock_word = 0; }

__attribute__((constructor)) static void watch_init(void) {
    Dl_info info;
    real_open = next("open");
    real_execve = next("execve");
    real_execvpe = next("execvpe");
    real_spawn = next("posix_spawn");
    real_spawnp = next("posix_spawnp");
    if (dladdr((void *)watch_init, &info) && info.dli_fname)
        snprintf(lib_path, sizeof lib_path, "%s", info.dli_fname);
    pthread_atfork(NULL, NULL, after_fork_child);
}

/* The current log's descriptor, reopened when $MLPIPE_WATCH_LOG changed; -1 when off. */
static int current_log(void) {
    const char *path = getenv(ENV_LOG);
    if (!path || !*path || !real_open) return -1;
    lock();
    if (log_fd < 0 || strcmp(path, log_path) != 0) {
        if (log_fd >= 0) close(log_fd);
        log_fd = real_open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        struct stat st;
        if (log_fd >= 0 && fstat(log_fd, &st) == 0) {
            log_dev = st.st_dev;
            log_ino = st.st_ino;
        }
        snprintf(log_path, sizeof log_path, "%s", path);
        const char *skip = getenv(ENV_SKIP);
        nskips = 0;
        snprintf(skip_buf, sizeof skip_buf, "%s", skip ? skip : "");
        for (char *p = skip_buf; *p && nskips < MAX_SKIP;) {
            char *end = strchr(p, ':');
            if (end) *end = 0;
            if (*p) { skips[nskips] = p; skip_len[nskips] = strlen(p); nskips++; }
            if (!end) break;
            p = end + 1;
        }
    }
    int fd = log_fd;
    unlock();
    return fd;
}

static int skipped(const char *path) {
    for (int i = 0; i < nskips; i++)
        if (strncmp(path, skips[i], skip_len[i]) == 0 &&
            (path[skip_len[i]] == '/' || path[skip_len[i]] == 0))
            return 1;
    return 0;
}

/* `path` made absolute: against the cwd, or the folder `dirfd` names. */
static const char *absolute(int dirfd, const char *path, char *buf, size_t size) {
    char dir[PATH_MAX];
    if (!path) return NULL;
    if (path[0] == '/') return path;
    if (dirfd == AT_FDCWD) {
        if (!getcwd(dir, sizeof dir)) return path;
    } else {
        char link[64];
        snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
        ssize_t n = readlink(link, dir, sizeof dir - 1);
        if (n <= 0) return path;
        dir[n] = 0;
    }
    if (path[0] == '.' && path[1] == 0) snprintf(buf, size, "%s", dir);
    else if (path[0] == '.' && path[1] == '/') snprintf(buf, size, "%s/%s", dir, path + 2);
    else snprintf(buf, size, "%s/%s", dir, path);
    return buf;
}

static void emit(char op, int err, int fd, int dirfd, const char *path, const char *note) {
    char abs_buf[PATH_MAX * 2], line[PATH_MAX * 2 + 256];
    struct stat st;
    if (!path || !*path) return;  /* stat("") and the like: ENOENT, not a lookup */
    int log = current_log();
    if (log < 0) return;
    const char *full = absolute(dirfd, path, abs_buf, sizeof abs_buf);
    if (op != 'O' && skipped(full)) return;
    memset(&st, 0, sizeof st);
    if (fd >= 0) fstat(fd, &st);
    int n = snprintf(line, sizeof line, "%c\t%d\t%d\t%lld\t%lld\t%lld\t%llu\t%s%s\n", op, err,
                     (int)getpid(), (long long)st.st_size,
                     (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec,
                     (long long)st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec,
                     (unsigned long long)st.st_ino, full, note ? note : "");
    if (n > 0 && n < (int)sizeof line) {
        /* The descriptor may be gone or another file now: a subprocess child closes
         * its descriptors before exec (close_fds) and may dup others onto that number.
         * Then write through a descriptor of its own, leaving the shared state alone
         * (in a vfork child it is the parent's memory). */
        struct stat ls;
        int own = -1;
        if (fstat(log, &ls) != 0 || ls.st_dev != log_dev || ls.st_ino != log_ino) {
            own = real_open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
            log = own;
        }
        if (log >= 0) {
            ssize_t ignored = write(log, line, (size_t)n);
            (void)ignored;
        }
        if (own >= 0) close(own);
    }
}

static char open_op(int flags) {
    int acc = flags & O_ACCMODE;
    if (flags & O_DIRECTORY) return 'D';
    if (acc == O_WRONLY || (flags & O_TRUNC)) return 'W';
    if (acc == O_RDWR) return 'U';
    return 'R';
}

static char fopen_op(const char *mode) {
    if (!mode) return 'R';
    if (mode[0] == 'w' || mode[0] == 'a') return 'W';
    if (strchr(mode, '+')) return 'U';
    return 'R';
}

/* Log one call's outcome (not the watcher's own calls), keeping errno as the call set it. */
static void record(char op, int failed, int fd, int dirfd, const char *path) {
    if (busy) return;
    busy = 1;
    int saved = errno;
    emit(op, failed ? saved : 0, fd, dirfd, path, NULL);
    errno = saved;
    busy = 0;
}

/* -- open ------------------------------------------------------------------------- */

#define OPEN_LIKE(NAME)                                                                 \
    int NAME(const char *path, int flags, ...) {                                        \
        static int (*real)(const char *, int, ...);                                     \
        mode_t mode = 0;                                                                \
        if (flags & (O_CREAT | O_TMPFILE)) {                                            \
            va_list ap; va_start(ap, flags); mode = va_arg(ap, mode_t); va_end(ap);     \
        }                                                                               \
        if (!real) real = next(#NAME);                                                  \
        int fd = real(path, flags, mode);                                               \
        record(open_op(flags), fd < 0, fd, AT_FDCWD, path);                             \
        return fd;                                                                      \
    }
OPEN_LIKE(open)
OPEN_LIKE(open64)

#define OPENAT_LIKE(NAME)                                                               \
    int NAME(int dirfd, const char *path, int flags, ...) {                             \
        static int (*real)(int, const char *, int, ...);                                \
        mode_t mode = 0;                                                                \
        if (flags & (O_CREAT | O_TMPFILE)) {                                            \
            va_list ap; va_start(ap, flags); mode = va_arg(ap, mode_t); va_end(ap);     \
        }                                                                               \
        if (!real) real = next(#NAME);                                                  \
        int fd = real(dirfd, path, flags, mode);                                        \
        record(open_op(flags), fd < 0, fd, dirfd, path);                                \
        return fd;                                                                      \
    }
OPENAT_LIKE(openat)
OPENAT_LIKE(openat64)

#define OPEN2_LIKE(NAME)                                                                \
    int NAME(const char *path, int flags) {                                             \
        static int (*real)(const char *, int);                                          \
        if (!real) real = next(#NAME);                                                  \
        int fd = real(path, flags);                                                     \
        record(open_op(flags), fd < 0, fd, AT_FDCWD, path);                             \
        return fd;                                                                      \
    }
OPEN2_LIKE(__open_2)
OPEN2_LIKE(__open64_2)

#define OPENAT2_LIKE(NAME)                                                              \
    int NAME(int dirfd, const char *path, int flags) {                                  \
        static int (*real)(int, const char *, int);                                     \
        if (!real) real = next(#NAME);                                                  \
        int fd = real(dirfd, path, flags);                                              \
        record(open_op(flags), fd < 0, fd, dirfd, path);                                \
        return fd;                                                                      \
    }
OPENAT2_LIKE(__openat_2)
OPENAT2_LIKE(__openat64_2)

#define FOPEN_LIKE(NAME)                                                                \
    FILE *NAME(const char *path, const char *mode) {                                    \
        static FILE *(*real)(const char *, const char *);                               \
        if (!real) real = next(#NAME);                                                  \
        FILE *f = real(path, mode);                                                     \
        record(fopen_op(mode), !f, f ? fileno(f) : -1, AT_FDCWD, path);                 \
        return f;                                                                       \
    }
FOPEN_LIKE(fopen)
FOPEN_LIKE(fopen64)

FILE *freopen(const char *path, const char *mode, FILE *stream) {
    static FILE *(*real)(const char *, const char *, FILE *);
    if (!real) real = next("freopen");
    FILE *f = real(path, mode, stream);
    if (path) record(fopen_op(mode), !f, f ? fileno(f) : -1, AT_FDCWD, path);
    return f;
}

DIR *opendir(const char *path) {
    static DIR *(*real)(const char *);
    if (!real) real = next("opendir");
    DIR *d = real(path);
    record('D', !d, -1, AT_FDCWD, path);
    return d;
}

/* -- lookups: logged only when they fail (a negative lookup) ------------------------ */

static void lookup(int rc, int dirfd, const char *path) {
    if (rc == 0 || busy) return;
    busy = 1; int saved = errno;
    if (saved == ENOENT || saved == ENOTDIR) emit('S', saved, -1, dirfd, path, NULL);
    errno = saved; busy = 0;
}

#define STAT_LIKE(NAME, ST, FALLBACK, VER)                                              \
    int NAME(const char *path, struct ST *buf) {                                        \
        static int (*real)(const char *, struct ST *);                                  \
        static int (*old)(int, const char *, struct ST *);                              \
        int rc;                                                                         \
        if (!real && !old) { real = next(#NAME); if (!real) old = next(FALLBACK); }     \
        rc = real ? real(path, buf) : old ? old(VER, path, buf) : (errno = ENOSYS, -1); \
        lookup(rc, AT_FDCWD, path);                                                     \
        return rc;                                                                      \
    }
STAT_LIKE(stat, stat, "__xstat", 1)
STAT_LIKE(stat64, stat64, "__xstat64", 1)
STAT_LIKE(lstat, stat, "__lxstat", 1)
STAT_LIKE(lstat64, stat64, "__lxstat64", 1)

#define FSTATAT_LIKE(NAME, ST, FALLBACK)                                                \
    int NAME(int dirfd, const char *path, struct ST *buf, int flags) {                  \
        static int (*real)(int, const char *, struct ST *, int);                        \
        static int (*old)(int, int, const char *, struct ST *, int);                    \
        int rc;                                                                         \
        if (!real && !old) { real = next(#NAME); if (!real) old = next(FALLBACK); }     \
        rc = real ? real(dirfd, path, buf, flags)                                       \
                  : old ? old(1, dirfd, path, buf, flags) : (errno = ENOSYS, -1);       \
        if (path && *path) lookup(rc, dirfd, path);                                     \
        return rc;                                                                      \
    }
FSTATAT_LIKE(fstatat, stat, "__fxstatat")
FSTATAT_LIKE(fstatat64, stat64, "__fxstatat64")

#define XSTAT_LIKE(NAME, ST)                                                            \
    int NAME(int ver, const char *path, struct ST *buf) {                               \
        static int (*real)(int, const char *, struct ST *);                             \
        if (!real) real = next(#NAME);                                                  \
        if (!real) { errno = ENOSYS; return -1; }                                       \
        int rc = real(ver, path, buf);                                                  \
        lookup(rc, AT_FDCWD, path);                                                     \
        return rc;                                                                      \
    }
XSTAT_LIKE(__xstat, stat)
XSTAT_LIKE(__xstat64, stat64)
XSTAT_LIKE(__lxstat, stat)
XSTAT_LIKE(__lxstat64, stat64)

#define FXSTATAT_LIKE(NAME, ST)                                                         \
    int NAME(int ver, int dirfd, const char *path, struct ST *buf, int flags) {         \
        static int (*real)(int, int, const char *, struct ST *, int);                   \
        if (!real) real = next(#NAME);                                                  \
        if (!real) { errno = ENOSYS; return -1; }                                       \
        int rc = real(ver, dirfd, path, buf, flags);                                    \
        if (path && *path) lookup(rc, dirfd, path);                                     \
        return rc;                                                                      \
    }
FXSTATAT_LIKE(__fxstatat, stat)
FXSTATAT_LIKE(__fxstatat64, stat64)

int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *buf) {
    static int (*real)(int, const char *, int, unsigned int, struct statx *);
    if (!real) real = next("statx");
    if (!real) { errno = ENOSYS; return -1; }
    int rc = real(dirfd, path, flags, mask, buf);
    if (path && *path) lookup(rc, dirfd, path);
    return rc;
}

int access(const char *path, int mode) {
    static int (*real)(const char *, int);
    if (!real) real = next("access");
    int rc = real(path, mode);
    lookup(rc, AT_FDCWD, path);
    return rc;
}

int faccessat(int dirfd, const char *path, int mode, int flags) {
    static int (*real)(int, const char *, int, int);
    if (!real) real = next("faccessat");
    int rc = real(dirfd, path, mode, flags);
    lookup(rc, dirfd, path);
    return rc;
}

/* -- shared libraries ------------------------------------------------------------- */

void *dlopen(const char *file, int mode) {
    static void *(*real)(const char *, int);
    if (!real) real = next("dlopen");
    void *handle = real(file, mode);
    if (busy || !file) return handle;
    busy = 1; int saved = errno;
    struct link_map *map = NULL;
    if (handle && dlinfo(handle, RTLD_DI_LINKMAP, &map) == 0 && map && map->l_name &&
        map->l_name[0]) {
        int fd = real_open ? real_open(map->l_name, O_RDONLY | O_CLOEXEC) : -1;
        emit('L', 0, fd, AT_FDCWD, map->l_name, NULL);
        if (fd >= 0) close(fd);
    } else if (!handle && strchr(file, '/')) {
        emit('S', ENOENT, -1, AT_FDCWD, file, NULL);
    }
    errno = saved; busy = 0;
    return handle;
}

/* -- programs started --------------------------------------------------------------- */

/* Why `path` cannot be followed (statically linked, Go, setuid, file capabilities), or
 * NULL when it can (a dynamically linked program, a script). */
static const char *unfollowable(const char *path) {
    /* only calls that need no symbol lookup: this may run in a vfork child */
    struct stat st;
    if (!path || !real_open) return NULL;
    int fd = real_open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    if (fstat(fd, &st) != 0) { close(fd); return NULL; }
    if (st.st_mode & (S_ISUID | S_ISGID)) { close(fd); return " (setuid)"; }
    if (fgetxattr(fd, "security.capability", NULL, 0) > 0) {
        close(fd);
        return " (file capabilities)";
    }
    const char *why = NULL;
    Elf64_Ehdr eh;
    if (pread(fd, &eh, sizeof eh, 0) == (ssize_t)sizeof eh && memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 &&
        eh.e_ident[EI_CLASS] == ELFCLASS64) {
        int interp = 0;
        for (int i = 0; i < eh.e_phnum && i < 256; i++) {
            Elf64_Phdr ph;
            if (pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + (Elf64_Off)i * eh.e_phentsize)) !=
                (ssize_t)sizeof ph) break;
            if (ph.p_type == PT_INTERP) interp = 1;
        }
        if (!interp) why = " (statically linked)";
        Elf64_Shdr names;
        if (!why && eh.e_shstrndx < eh.e_shnum && eh.e_shnum < 512 &&
            pread(fd, &names, sizeof names,
                  (off_t)(eh.e_shoff + (Elf64_Off)eh.e_shstrndx * eh.e_shentsize)) ==
                (ssize_t)sizeof names) {
            char strtab[16384];
            size_t size = names.sh_size < sizeof strtab - 1 ? names.sh_size : sizeof strtab - 1;
            ssize_t got = pread(fd, strtab, size, (off_t)names.sh_offset);
            if (got > 0) {
                strtab[got] = 0;
                for (ssize_t i = 0; i + 6 < got; i++)
                    if (memcmp(strtab + i, ".go.buildinfo", 13) == 0 ||
                        memcmp(strtab + i, ".note.go.buildid", 16) == 0) {
                        why = " (a Go program)";
                        break;
                    }
            }
        }
    }
    close(fd);
    return why;
}

static void note_exec(const char *path) {
    if (busy || !path) return;
    busy = 1; int saved = errno;
    if (current_log() >= 0) {
        const char *why = unfollowable(path);
        if (why) emit('O', 0, -1, AT_FDCWD, path, why);
    }
    errno = saved; busy = 0;
}

/* `file` found on $PATH as execvp would (for the check only). */
static const char *on_path(const char *file, char *buf, size_t size) {
    if (!file || strchr(file, '/') || busy) return file;
    const char *path = getenv("PATH"), *found = file;
    busy = 1; int saved = errno;
    if (!path) path = "/bin:/usr/bin";
    while (*path) {
        const char *end = strchr(path, ':');
        size_t len = end ? (size_t)(end - path) : strlen(path);
        snprintf(buf, size, "%.*s/%s", (int)len, path, file);
        if (access(buf, X_OK) == 0) { found = buf; break; }
        if (!end) break;
        path = end + 1;
    }
    errno = saved; busy = 0;
    return found;
}

static int has(char *const envp[], const char *name, size_t len) {
    for (char *const *e = envp; e && *e; e++)
        if (strncmp(*e, name, len) == 0 && (*e)[len] == '=') return 1;
    return 0;
}

/* `envp` with LD_PRELOAD (this library) and MLPIPE_WATCH_LOG/SKIP put back; built in
 * the caller's stack buffers (no malloc: this may run in a vfork child). */
#define FIXED_ENV(envp, out)                                                            \
    size_t n_##out = 0;                                                                 \
    for (char *const *e = (envp); e && *e; e++) n_##out++;                              \
    char **out = __builtin_alloca((n_##out + 5) * sizeof(char *));                      \
    char pre_##out[PATH_MAX + 32], log_##out[PATH_MAX + 32], skip_##out[8192 + 32];     \
    fix_env((envp), out, pre_##out, log_##out, skip_##out)

static void fix_env(char *const envp[], char **out, char *pre, char *log, char *skip) {
    size_t k = 0;
    int had_preload = 0;
    for (char *const *e = envp; e && *e; e++) {
        if (strncmp(*e, "LD_PRELOAD=", 11) == 0 && lib_path[0]) {
            had_preload = 1;
            if (!strstr(*e + 11, lib_path)) {
                snprintf(pre, PATH_MAX + 32, "LD_PRELOAD=%s:%s", lib_path, *e + 11);
                out[k++] = pre;
                continue;
            }
        }
        out[k++] = *e;
    }
    if (!had_preload && lib_path[0]) {
        snprintf(pre, PATH_MAX + 32, "LD_PRELOAD=%s", lib_path);
        out[k++] = pre;
    }
    const char *value = getenv(ENV_LOG);
    if (value && !has(envp, ENV_LOG, strlen(ENV_LOG))) {
        snprintf(log, PATH_MAX + 32, "%s=%s", ENV_LOG, value);
        out[k++] = log;
    }
    value = getenv(ENV_SKIP);
    if (value && !has(envp, ENV_SKIP, strlen(ENV_SKIP))) {
        snprintf(skip, 8192 + 32, "%s=%s", ENV_SKIP, value);
        out[k++] = skip;
    }
    out[k] = NULL;
}

int execve(const char *path, char *const argv[], char *const envp[]) {
    if (!real_execve) { errno = ENOSYS; return -1; }
    note_exec(path);
    FIXED_ENV(envp, env);
    return real_execve(path, argv, env);
}

int execv(const char *path, char *const argv[]) { return execve(path, argv, environ); }

int execvpe(const char *file, char *const argv[], char *const envp[]) {
    char buf[PATH_MAX];
    if (!real_execvpe) { errno = ENOSYS; return -1; }
    note_exec(on_path(file, buf, sizeof buf));
    FIXED_ENV(envp, env);
    return real_execvpe(file, argv, env);
}

int execvp(const char *file, char *const argv[]) { return execvpe(file, argv, environ); }

#define COLLECT_ARGS(first, argv)                                                       \
    size_t argc_ = 1; va_list ap;                                                       \
    va_start(ap, first); while (va_arg(ap, char *)) argc_++; va_end(ap);                \
    char **argv = __builtin_alloca((argc_ + 1) * sizeof(char *));                       \
    argv[0] = (char *)(first);                                                          \
    va_start(ap, first);                                                                \
    for (size_t i_ = 1; i_ <= argc_; i_++) argv[i_] = va_arg(ap, char *)

int execl(const char *path, const char *arg, ...) {
    COLLECT_ARGS(arg, argv);
    va_end(ap);
    return execve(path, argv, environ);
}

int execlp(const char *file, const char *arg, ...) {
    COLLECT_ARGS(arg, argv);
    va_end(ap);
    return execvpe(file, argv, environ);
}

int execle(const char *path, const char *arg, ...) {
    COLLECT_ARGS(arg, argv);
    char *const *envp = va_arg(ap, char *const *);
    va_end(ap);
    return execve(path, argv, envp);
}

int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *actions,
                const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
    if (!real_spawn) return ENOSYS;
    note_exec(path);
    FIXED_ENV(envp, env);
    return real_spawn(pid, path, actions, attr, argv, env);
}

int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *actions,
                 const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
    char buf[PATH_MAX];
    if (!real_spawnp) return ENOSYS;
    note_exec(on_path(file, buf, sizeof buf));
    FIXED_ENV(envp, env);
    return real_spawnp(pid, file, actions, attr, argv, env);
}
