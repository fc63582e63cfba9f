/* diff.h — `trainc diff A.lua B.lua [-o DIR]`: what changes in the
 * generated C when the spec changes. Generates both specs (DIR/a, DIR/b)
 * and writes DIR/diff.html: the two specs side by side with their changed
 * lines marked, then model.c block by block: each block that changed,
 * appeared or went, with its lines diffed and the spec lines it comes
 * from; unchanged blocks folded. Moved spec lines alone change nothing. */
#ifndef DIFF_H
#define DIFF_H

int diff_main(int argc, char **argv);

#endif
