// The `behemoth` command line: see backend/cli/.
int main() { return 0; }
