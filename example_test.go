package pathosstar_test

import (
	"context"
	"fmt"
	"os"

	"go.starlark.net/starlark"

	pathosstar "github.com/pathos-star/pathos-star"
)

// A Go program runs a script that maps a function in parallel.
func Example() {
	in, err := pathosstar.New(pathosstar.WithPool("threads:2"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer in.Close()
	_, err = in.Run(context.Background(), "squares.star", `
def square(x):
    return x * x
print(pool.map(square, range(6)))
`)
	if err != nil {
		fmt.Println(err)
	}
	// Output:
	// [0, 1, 4, 9, 16, 25]
}

// The same script gives the same output on every pool.
func ExampleWithPool() {
	src := `
LIMIT = 10
def capped(x):
    return min(x, LIMIT)
print(pool.map(capped, [5, 50]), pipe(capped, 7))
`
	for _, spec := range []string{"serial", "threads:2", "processes:2"} {
		in, err := pathosstar.New(pathosstar.WithPool(spec))
		if err != nil {
			fmt.Println(err)
			return
		}
		if _, err := in.Run(context.Background(), "capped.star", src); err != nil {
			fmt.Println(err)
		}
		in.Close()
	}
	// Output:
	// [5, 10] 7
	// [5, 10] 7
	// [5, 10] 7
}

// Run returns the script's globals, and argv holds its arguments.
func ExampleInterpreter_Run() {
	in, err := pathosstar.New(pathosstar.WithArgs([]string{"sum.star", "4"}), pathosstar.WithStdout(os.Stdout))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer in.Close()
	globals, err := in.Run(context.Background(), "sum.star", `
n = int(argv[1])
total = 0
for x in pool.map(lambda i: i * 10, range(n)):
    total += x
`)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(globals["total"])
	// Output:
	// 60
}

// A failing task reports the pool, the task, its arguments and the task's
// traceback in the script's own file and line.
func ExampleInterpreter_Run_error() {
	in, err := pathosstar.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer in.Close()
	_, err = in.Run(context.Background(), "job.star", `
def f(x):
    return 10 // (x - 2)
pool.map(f, range(4))
`)
	if ee, ok := err.(*starlark.EvalError); ok {
		fmt.Println(ee.Msg)
	}
	// Output:
	// pool.map on serial: task 2 with arguments (2,) failed:
	// Traceback (most recent call last):
	//   job.star:3:15: in f
	// Error: floored division by zero
}
