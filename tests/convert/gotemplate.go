// Executes Go text/template templates with confd's template functions, written from confd's behaviour as
// shared/reference/confd.md records it (memkv's store functions over a fixed set of keys, the helpers
// of its newFuncMap), so the corpus's expected outputs are checked against Go itself.
//
// stdin:  {"keys": {"/a": "1", ...}, "env": {"NAME": "v"}, "cases": [{"name": "...", "template": "..."}]}
// stdout: {"<name>": {"output": "...", "error": "...", "stage": "parse|execute"}, ...}; each template executed
// with nil data, as confd does.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"
)

type KVPair struct {
	Key   string
	Value string
}

type KVPairs []KVPair

type input struct {
	Keys  map[string]string `json:"keys"`
	Env   map[string]string `json:"env"`
	Cases []struct {
		Name     string `json:"name"`
		Template string `json:"template"`
	} `json:"cases"`
}

type result struct {
	Output string `json:"output"`
	Error  string `json:"error,omitempty"`
	Stage  string `json:"stage,omitempty"` // "parse" or "execute": where Error happened
}

type store map[string]string

func (s store) sortedKeys() []string {
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (s store) getv(key string, def ...string) (string, error) {
	if v, ok := s[key]; ok {
		return v, nil
	}
	if len(def) > 0 {
		return def[0], nil
	}
	return "", fmt.Errorf("key does not exist: %s", key)
}

func (s store) get(key string) (KVPair, error) {
	if v, ok := s[key]; ok {
		return KVPair{key, v}, nil
	}
	return KVPair{}, fmt.Errorf("key does not exist: %s", key)
}

func (s store) gets(pattern string) (KVPairs, error) {
	out := KVPairs{}
	for _, k := range s.sortedKeys() {
		matched, err := path.Match(pattern, k)
		if err != nil {
			return nil, err
		}
		if matched {
			out = append(out, KVPair{k, s[k]})
		}
	}
	return out, nil
}

func (s store) getvs(pattern string) ([]string, error) {
	out := []string{}
	pairs, err := s.gets(pattern)
	if err != nil {
		return nil, err
	}
	for _, kv := range pairs {
		out = append(out, kv.Value)
	}
	sort.Strings(out)
	return out, nil
}

// children: the names directly below p; dirsOnly keeps those with keys further down.
func (s store) children(p string, dirsOnly bool) []string {
	p = path.Clean(p)
	below := p + "/"
	if p == "/" {
		below = "/"
	}
	names := map[string]bool{}
	for k := range s {
		if k == p && !dirsOnly {
			names[path.Base(k)] = true
			continue
		}
		if !strings.HasPrefix(k, below) {
			continue
		}
		rest := k[len(below):]
		name, _, deeper := strings.Cut(rest, "/")
		if name != "" && (deeper || !dirsOnly) {
			names[name] = true
		}
	}
	out := []string{}
	for n := range names {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func reverse(values interface{}) interface{} {
	switch v := values.(type) {
	case []string:
		for left, right := 0, len(v)-1; left < right; left, right = left+1, right-1 {
			v[left], v[right] = v[right], v[left]
		}
	case []KVPair:
		for left, right := 0, len(v)-1; left < right; left, right = left+1, right-1 {
			v[left], v[right] = v[right], v[left]
		}
	}
	return values
}

func funcs(s store, env map[string]string) template.FuncMap {
	return template.FuncMap{
		"getv": s.getv, "get": s.get, "gets": s.gets, "getvs": s.getvs,
		"exists": func(key string) bool { _, ok := s[key]; return ok },
		"ls":     func(p string) []string { return s.children(p, false) },
		"lsdir":  func(p string) []string { return s.children(p, true) },
		"base":   path.Base, "dir": path.Dir, "split": strings.Split, "join": strings.Join,
		"toUpper": strings.ToUpper, "toLower": strings.ToLower, "contains": strings.Contains,
		"replace": strings.Replace, "trimSuffix": strings.TrimSuffix,
		"json": func(data string) (map[string]interface{}, error) {
			var ret map[string]interface{}
			err := json.Unmarshal([]byte(data), &ret)
			return ret, err
		},
		"jsonArray": func(data string) ([]interface{}, error) {
			var ret []interface{}
			err := json.Unmarshal([]byte(data), &ret)
			return ret, err
		},
		"map": func(values ...interface{}) (map[string]interface{}, error) {
			if len(values)%2 != 0 {
				return nil, fmt.Errorf("invalid map call")
			}
			out := map[string]interface{}{}
			for i := 0; i < len(values); i += 2 {
				key, ok := values[i].(string)
				if !ok {
					return nil, fmt.Errorf("map keys must be strings")
				}
				out[key] = values[i+1]
			}
			return out, nil
		},
		"getenv": func(key string, def ...string) string {
			if v := env[key]; v != "" {
				return v
			}
			if len(def) > 0 {
				return def[0]
			}
			return ""
		},
		"base64Encode": func(data string) string { return base64.StdEncoding.EncodeToString([]byte(data)) },
		"base64Decode": func(data string) (string, error) {
			b, err := base64.StdEncoding.DecodeString(data)
			return string(b), err
		},
		"parseBool": strconv.ParseBool, "atoi": strconv.Atoi,
		"add": func(a, b int) int { return a + b }, "sub": func(a, b int) int { return a - b },
		"mul": func(a, b int) int { return a * b }, "div": func(a, b int) int { return a / b },
		"mod": func(a, b int) int { return a % b },
		"seq": func(first, last int) []int {
			out := []int{}
			for i := first; i <= last; i++ {
				out = append(out, i)
			}
			return out
		},
		"reverse": reverse,
		"sortByLength": func(values []string) []string {
			sort.SliceStable(values, func(i, j int) bool { return len(values[i]) < len(values[j]) })
			return values
		},
		"sortKVByLength": func(values []KVPair) []KVPair {
			sort.SliceStable(values, func(i, j int) bool { return len(values[i].Key) < len(values[j].Key) })
			return values
		},
		"datetime":   time.Now,
		"fileExists": func(p string) bool { _, err := os.Stat(p); return !os.IsNotExist(err) },
	}
}

func main() {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	results := map[string]result{}
	for _, c := range in.Cases {
		tmpl, err := template.New(c.Name).Funcs(funcs(store(in.Keys), in.Env)).Parse(c.Template)
		if err != nil {
			results[c.Name] = result{Error: err.Error(), Stage: "parse"}
			continue
		}
		var out bytes.Buffer
		if err := tmpl.Execute(&out, nil); err != nil {
			results[c.Name] = result{Output: out.String(), Error: err.Error(), Stage: "execute"}
			continue
		}
		results[c.Name] = result{Output: out.String()}
	}
	if err := json.NewEncoder(os.Stdout).Encode(results); err != nil {
		os.Exit(2)
	}
}
