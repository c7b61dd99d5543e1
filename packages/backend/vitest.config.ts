import { samrankVitestConfig } from '../../vitest.shared.js';

export default samrankVitestConfig();
