// Small RAII wrappers over the sqlite3 C API: a connection, a prepared statement, a transaction.
// Every error is a std::runtime_error "history database <path>: <sqlite message>".
#pragma once

#include <cstdint>
#include <optional>
#include <string>

struct sqlite3;
struct sqlite3_stmt;

namespace behemoth::sqlite {

class Database {
 public:
  // Opens (creating) the file read-write; waits up to busy_timeout_ms for locks held by others.
  Database(const std::string& path, int busy_timeout_ms);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;

  // Runs one or more statements that return no rows needed by the caller.
  void exec(const std::string& sql);
  std::int64_t lastInsertId() const;
  int changes() const;
  const std::string& path() const { return path_; }
  sqlite3* handle() const { return db_; }
  [[noreturn]] void fail(int code, const std::string& context = "") const;

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
};

class Statement {
 public:
  Statement(Database& db, const std::string& sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Parameters are 1-based, as in SQL "?1".
  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
  Statement& bind(int index, double value);  // NaN binds as NULL
  Statement& bind(int index, const std::string& value);
  Statement& bind(int index, const char* value) { return bind(index, std::string(value)); }
  Statement& bindNull(int index);
  template <typename T>
  Statement& bind(int index, const std::optional<T>& value) {
    return value ? bind(index, *value) : bindNull(index);
  }

  // Advances to the next row; false when done.
  bool step();
  // Runs a statement that returns no rows.
  void run();
  void reset();

  bool isNull(int column) const;
  std::int64_t getInt(int column) const;
  double getDouble(int column) const;
  std::string getText(int column) const;
  std::optional<std::int64_t> getOptionalInt(int column) const;
  std::optional<double> getOptionalDouble(int column) const;
  std::optional<std::string> getOptionalText(int column) const;

 private:
  Database& db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back if destroyed before commit(). IMMEDIATE takes the write
// lock up front, so two writers wait for each other (busy timeout) instead of deadlocking.
class Transaction {
 public:
  explicit Transaction(Database& db);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Database& db_;
  bool open_ = false;
};

// PRAGMA synchronous=FULL while it lives, then back to `restore_to`: transactions committed
// inside reach the disk before COMMIT returns (in WAL mode NORMAL may lose the latest commits to
// a power cut, never to a killed process). SQLite refuses the switch inside a transaction, so
// create it before the Transaction it covers.
class SynchronousFull {
 public:
  explicit SynchronousFull(Database& db, const char* restore_to = "NORMAL");
  ~SynchronousFull();
  SynchronousFull(const SynchronousFull&) = delete;
  SynchronousFull& operator=(const SynchronousFull&) = delete;

 private:
  Database& db_;
  std::string restore_;
};

}  // namespace behemoth::sqlite
