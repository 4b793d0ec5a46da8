import { LuaScript } from './lua-script';

/** Releases a lock or lease for its holder only (lua/compare-and-delete-1.lua). */
export const COMPARE_AND_DELETE = LuaScript.fromFile(__dirname, 'lua/compare-and-delete-1.lua');

/** Renews a lock or lease for its holder only (lua/compare-and-expire-1.lua). */
export const COMPARE_AND_EXPIRE = LuaScript.fromFile(__dirname, 'lua/compare-and-expire-1.lua');
