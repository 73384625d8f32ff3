# Run by tests/run-all inside the VM through tools/vm-run --user 1000 --add.
echo "uid=$(id -u)"
echo "cwd=$(pwd)"
cat ./hello.txt
exit 7
