"""Print or write the built-in demo corpus (the generator lives in demo/stories.py).

**Reads:** nothing.  **Writes:** stdout, or the file/folder given.
**Usage:**
    python scripts/demo_corpus.py --stories 3                 # print three stories
    python scripts/demo_corpus.py --stories 1 --facts         # one story, its facts and memory probes
    python scripts/demo_corpus.py --out big.txt --mb 200      # one file, stories separated by blank lines
    python scripts/demo_corpus.py --folder corpus/ --mb 50    # one .txt per story
    python scripts/demo_corpus.py --stats                     # size, speed and variety figures
"""

import argparse
import json
import os
import sys

from demo.stories import generate_corpus, memory_probes, write_corpus_files, write_text_file


def main(argv: list[str] | None = None) -> int:
    """The tiny CLI of the module docstring; exit code 0, or 2 for bad arguments."""
    p = argparse.ArgumentParser(prog="demo_corpus.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stories", type=int, default=None, help="how many stories (print; default 3, stats 800)")
    p.add_argument("--seed", type=int, default=1234, help="generator seed (the import stage's default: 1234)")
    p.add_argument("--start", type=int, default=0, help="index of the first story to print")
    p.add_argument("--facts", action="store_true", help="print each story's facts and memory probes too")
    p.add_argument("--out", metavar="FILE", help="write one big text file of --mb megabytes")
    p.add_argument("--folder", metavar="DIR", help="write one .txt per story, --mb megabytes in all")
    p.add_argument("--mb", type=float, default=10.0, help="size for --out / --folder (MB, 10**6 bytes)")
    p.add_argument("--stats", action="store_true", help="measure size, speed, characters and variety")
    p.add_argument("--sample", type=int, default=300, help="stories compared pairwise by --stats")
    args = p.parse_args(argv)
    if (args.stories is not None and args.stories < 0) or args.mb <= 0 or args.start < 0:
        p.error("--stories, --start must be >= 0 and --mb > 0")
    if args.out or args.folder:
        counts = (write_text_file(args.out, args.mb, args.seed) if args.out
                  else write_corpus_files(args.folder, args.mb, args.seed))
        print(f"wrote {counts['stories']:,} stories, {counts['bytes']:,} bytes to {args.out or args.folder}")
    elif args.stats:
        from demo.stats import corpus_stats  # imports this module; only --stats needs it
        print(json.dumps(corpus_stats(args.stories or 800, args.seed, args.sample), indent=2))
    else:
        try:
            for story in generate_corpus(3 if args.stories is None else args.stories, args.seed, args.start):
                print(f"=== {story.doc_id}: {story.title}\n\n{story.text}")
                if args.facts:
                    print(json.dumps(story.facts, ensure_ascii=False, indent=1))
                    for pr in memory_probes(story):
                        print(f"probe: ...{pr.prefix[-60:]!r} -> {pr.answer!r} ({pr.distance:,} chars back)")
        except BrokenPipeError:  # `| head` stopped reading: not an error
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())
