package stack

import (
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// FuzzParse checks that no input makes Parse panic (the recover in Parse is
// disabled here by calling the builder directly) and that failures are *Error
// or Errors.
func FuzzParse(f *testing.F) {
	f.Add(DefaultTemplate())
	if b, err := os.ReadFile("testdata/base.yaml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(intrinsicJSON))
	f.Add([]byte(`{"Resources": {"A": {"Type": "AWS::EC2::Instance", "Properties": {"PrivateIpAddress": {"Fn::Select": ["9", [1]]}}}}}`))
	f.Add([]byte("Resources:\n  A: {Type: AWS::EC2::Instance, Properties: {UserData: !Base64 {\"Fn::Sub\": \"${A.PrivateIp}\"}}}\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("Resources: !Ref X\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		b := &builder{file: "f.yaml", log: discardLogger(), errs: &errList{file: "f.yaml"}}
		st := b.run(src)
		if st == nil {
			t.Fatal("nil stack")
		}
		if err := b.errs.result(); err != nil {
			switch err.(type) {
			case *Error, Errors:
			default:
				t.Fatalf("error of type %T", err)
			}
		}
	})
}

func TestAliasBombRejected(t *testing.T) {
	s := "a: &a [x,x,x,x,x,x,x,x,x,x]\n"
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g"} {
		s += n + ": &" + n + " [" + strings.Repeat("*"+prev+",", 9) + "*" + prev + "]\n"
		prev = n
	}
	s += "Resources: {A: {Type: AWS::EC2::Instance, Properties: {Tags: *g}}}\n"
	_, err := Parse("bomb.yaml", []byte(s), Options{})
	if err == nil || !strings.Contains(err.Error(), "bomb.yaml:6: (template): aliases expand the template to more than 200000 values") {
		t.Errorf("got %v", err)
	}
}
