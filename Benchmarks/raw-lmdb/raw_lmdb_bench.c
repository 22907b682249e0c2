/* The physical limit for the log benchmark: the same LMDB operations the event log performs,
 * with the same key and record sizes, and nothing else (no encryption, no hashing, no chain).
 *
 * Usage: raw_lmdb_bench DIR RECORD_BYTES BATCHED_EVENTS BATCH_SIZE SINGLE_COMMITS
 * Prints one JSON line per figure. */
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define CHECK(call) do { int rc_ = (call); if (rc_) { fprintf(stderr, "%s: %s\n", #call, mdb_strerror(rc_)); exit(1); } } while (0)

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void key_for(uint64_t seq, unsigned char key[8]) {
    for (int i = 7; i >= 0; i--) { key[i] = seq & 0xff; seq >>= 8; }
}

static MDB_env *open_env(const char *dir) {
    MDB_env *env;
    mkdir(dir, 0700);
    CHECK(mdb_env_create(&env));
    CHECK(mdb_env_set_maxdbs(env, 4));
    CHECK(mdb_env_set_mapsize(env, (size_t)8 << 30));
    CHECK(mdb_env_open(env, dir, MDB_NOTLS, 0600));
    return env;
}

/* Appends `count` records in transactions of `batch`, each committed durably. */
static uint64_t append(MDB_env *env, MDB_dbi dbi, uint64_t next, long count, long batch, unsigned char *value, size_t size) {
    unsigned char key[8];
    for (long done = 0; done < count;) {
        MDB_txn *txn;
        CHECK(mdb_txn_begin(env, NULL, 0, &txn));
        for (long i = 0; i < batch && done < count; i++, done++) {
            key_for(next++, key);
            memcpy(value + 8, key, 8); /* vary the bytes a little, as sequences do */
            MDB_val k = { 8, key }, v = { size, value };
            CHECK(mdb_put(txn, dbi, &k, &v, MDB_APPEND));
        }
        CHECK(mdb_txn_commit(txn));
    }
    return next;
}

int main(int argc, char **argv) {
    if (argc != 6) { fprintf(stderr, "usage: %s DIR RECORD_BYTES BATCHED_EVENTS BATCH_SIZE SINGLE_COMMITS\n", argv[0]); return 2; }
    const char *dir = argv[1];
    size_t size = strtoul(argv[2], NULL, 10);
    long events = strtol(argv[3], NULL, 10), batch = strtol(argv[4], NULL, 10), singles = strtol(argv[5], NULL, 10);
    unsigned char *value = malloc(size);
    for (size_t i = 0; i < size; i++) value[i] = (unsigned char)(i * 31 + 7);

    MDB_env *env = open_env(dir);
    MDB_txn *txn;
    MDB_dbi dbi;
    CHECK(mdb_txn_begin(env, NULL, 0, &txn));
    CHECK(mdb_dbi_open(txn, "events", MDB_CREATE, &dbi));
    CHECK(mdb_txn_commit(txn));

    /* Best of three rounds: the machine is shared and noisy; the log benchmark does the same. */
    uint64_t next = 1;
    double batched = 0;
    for (int round = 0; round < 3; round++) {
        double t0 = now();
        next = append(env, dbi, next, events, batch, value, size);
        double rate = events / (now() - t0);
        if (rate > batched) batched = rate;
    }
    printf("{\"name\": \"raw_lmdb_batched_append\", \"value\": %.0f, \"unit\": \"events/s\", \"batch\": %ld, \"record_bytes\": %zu, \"rounds\": 3}\n", batched, batch, size);

    double t0 = now();
    next = append(env, dbi, next, singles, 1, value, size);
    double single = singles / (now() - t0);
    printf("{\"name\": \"raw_lmdb_single_durable_append\", \"value\": %.1f, \"unit\": \"commits/s\", \"record_bytes\": %zu}\n", single, size);

    /* Read every record back with a cursor, touching each byte once. */
    t0 = now();
    CHECK(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn));
    MDB_cursor *cursor;
    CHECK(mdb_cursor_open(txn, dbi, &cursor));
    MDB_val k, v;
    uint64_t sum = 0, records = 0;
    int rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST);
    while (rc == 0) {
        const unsigned char *p = v.mv_data;
        for (size_t i = 0; i < v.mv_size; i += 64) sum += p[i];
        records++;
        rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cursor);
    mdb_txn_abort(txn);
    double read = records / (now() - t0);
    printf("{\"name\": \"raw_lmdb_cursor_read\", \"value\": %.0f, \"unit\": \"records/s\", \"checksum\": %llu}\n", read, (unsigned long long)(sum & 0xff));
    mdb_env_close(env);
    free(value);
    (void)next;
    return 0;
}
