/*
 * How many CPUs this process may use, for coro_options.threads = 0: the
 * affinity mask, capped by a cgroup CPU quota (a container limited to 1.5
 * CPUs gets 2 loops, not one per host core).
 */
#include "internal.h"

#include <sched.h>
#include <stdio.h>
#include <string.h>

/* quota/period from "<quota> <period>" (v2 cpu.max) or two files (v1);
 * 0 when unlimited or unreadable. */
static unsigned quota_cpus(long long quota, long long period)
{
    if (quota <= 0 || period <= 0) return 0;
    return (unsigned)((quota + period - 1) / period);
}

static unsigned cgroup_v2_cpus(void)
{
    /* our own cgroup's path, from the "0::<path>" line */
    char path[512] = "", line[512];
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (f) {
        while (fgets(line, sizeof line, f))
            if (strncmp(line, "0::", 3) == 0) {
                line[strcspn(line, "\n")] = 0;
                snprintf(path, sizeof path, "%s", line + 3);
            }
        fclose(f);
    }
    char file[600];
    snprintf(file, sizeof file, "/sys/fs/cgroup%s/cpu.max", strcmp(path, "/") ? path : "");
    f = fopen(file, "r");
    if (!f) f = fopen("/sys/fs/cgroup/cpu.max", "r");
    if (!f) return 0;
    char q[32] = "";
    long long period = 0;
    unsigned n = 0;
    if (fscanf(f, "%31s %lld", q, &period) == 2 && strcmp(q, "max") != 0) {
        long long quota = 0;
        if (sscanf(q, "%lld", &quota) == 1) n = quota_cpus(quota, period);
    }
    fclose(f);
    return n;
}

static long long read_ll(const char *file)
{
    long long v = -1;
    FILE *f = fopen(file, "r");
    if (!f) return -1;
    if (fscanf(f, "%lld", &v) != 1) v = -1;
    fclose(f);
    return v;
}

static unsigned cgroup_v1_cpus(void)
{
    static const char *const dirs[] = { "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu" };
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        char qf[128], pf[128];
        snprintf(qf, sizeof qf, "%s/cpu.cfs_quota_us", dirs[i]);
        snprintf(pf, sizeof pf, "%s/cpu.cfs_period_us", dirs[i]);
        unsigned n = quota_cpus(read_ll(qf), read_ll(pf));
        if (n) return n;
    }
    return 0;
}

unsigned coro_usable_cpus_(void)
{
    unsigned n = 1;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) n = (unsigned)CPU_COUNT(&set);
    unsigned q = cgroup_v2_cpus();
    if (!q) q = cgroup_v1_cpus();
    if (q && q < n) n = q;
    return n ? n : 1;
}
