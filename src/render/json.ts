// The version of every JSON shape the program prints (docs/cli.md). Bumped when a shape
// changes incompatibly, so scripts can check what they parse.
export const jsonShapeVersion = 1
